/**
 * Adaptive group commit: one committer fiber takes everything queued (up to `maxBatch`) and
 * commits it at once. Idle, a request is committed immediately (a batch of one); under load,
 * what arrives during a commit is batched into the next, so one fsync serves many requests.
 */
import { Deferred, Effect, Metric, MetricBoundaries, Queue, type Scope } from "effect"

export interface GroupCommit<A, B, E> {
  /** Resolves once the item's batch is committed (or fails with the batch's error). */
  readonly submit: (item: A) => Effect.Effect<B, E>
}

export const batchSize = Metric.histogram(
  "relay_group_commit_batch_size",
  MetricBoundaries.fromIterable([1, 2, 4, 8, 16, 32, 64, 128, 256, 500]),
  "Inbound events per inbox commit."
)

interface Pending<A, B, E> {
  readonly item: A
  readonly done: Deferred.Deferred<B, E>
}

export const make = <A, B, E>(options: {
  readonly maxBatch: number
  /** Commits a batch; must return one result per item, in order. */
  readonly commit: (items: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>, E>
  /** When false, every item commits alone (for comparison benches). */
  readonly grouped?: boolean
}): Effect.Effect<GroupCommit<A, B, E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const queue = yield* Queue.bounded<Pending<A, B, E>>(options.maxBatch * 64)
    const max = options.grouped === false ? 1 : options.maxBatch

    const commitBatch = (batch: ReadonlyArray<Pending<A, B, E>>) =>
      options.commit(batch.map((p) => p.item)).pipe(
        Effect.exit,
        Effect.flatMap((exit) =>
          Effect.forEach(
            batch,
            (p, i) => {
              if (exit._tag === "Failure") return Deferred.failCause(p.done, exit.cause)
              const result = exit.value[i]
              return result === undefined ? Deferred.die(p.done, new Error("group commit: missing result")) : Deferred.succeed(p.done, result)
            },
            { discard: true }
          )
        ),
        Effect.zipRight(Metric.update(batchSize, batch.length))
      )

    // After the first item, one macrotask turn lets requests already on the sockets join the batch.
    const turn = Effect.async<void>((resume) => {
      setImmediate(() => resume(Effect.void))
    })
    yield* Queue.take(queue).pipe(
      Effect.flatMap((first) =>
        max === 1
          ? Effect.succeed([first])
          : Effect.zipRight(turn, Effect.map(Queue.takeUpTo(queue, max - 1), (rest) => [first, ...rest]))
      ),
      Effect.flatMap(commitBatch),
      Effect.forever,
      Effect.forkScoped
    )

    // Requests still queued at shutdown are told so (the HTTP server has drained before this runs).
    yield* Effect.addFinalizer(() =>
      Queue.takeAll(queue).pipe(
        Effect.flatMap((rest) => Effect.forEach(rest, (p) => Deferred.interrupt(p.done), { discard: true }))
      )
    )

    const submit = (item: A): Effect.Effect<B, E> =>
      Effect.flatMap(Deferred.make<B, E>(), (done) => Effect.zipRight(Queue.offer(queue, { item, done }), Deferred.await(done)))

    return { submit }
  })
