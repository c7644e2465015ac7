/**
 * Adaptive group commit, two ways:
 * - `make`: one committer fiber takes everything queued (up to `maxBatch`) and commits it at
 *   once. Idle, a request is committed immediately (a batch of one); under load, what arrives
 *   during a commit is batched into the next, so one fsync serves many requests (PostgreSQL).
 * - `pipelined`: for a committer that groups by itself (the SQLite writer's thread): small
 *   batches are handed over as they form, without waiting for earlier commits.
 *
 * The queue is a plain array with callbacks so the ingest fast path (outside any fiber) can
 * enqueue without paying for a fiber, a Deferred and a Queue per request.
 */
import { Effect, Exit, FiberId, Metric, MetricBoundaries, type Scope } from "effect"

export interface GroupCommit<A, B, E> {
  /** Resolves once the item's batch is committed (or fails with the batch's error). */
  readonly submit: (item: A) => Effect.Effect<B, E>
  /** The same, for callers outside a fiber: `done` is called exactly once, interrupted at shutdown. */
  readonly submitCallback: (item: A, done: (exit: Exit.Exit<B, E>) => void) => void
}

export const batchSize = Metric.histogram(
  "relay_group_commit_batch_size",
  MetricBoundaries.fromIterable([1, 2, 4, 8, 16, 32, 64, 128, 256, 500]),
  "Inbound events per batch handed to the inbox: per commit on PostgreSQL; per hand-off to the SQLite writer thread, which commits together what reaches it during an fsync."
)

interface Pending<A, B, E> {
  readonly item: A
  readonly done: (exit: Exit.Exit<B, E>) => void
}

/** Answers every request of a committed batch from the batch's exit (one result per item, in order). */
const settle = <A, B, E>(batch: ReadonlyArray<Pending<A, B, E>>, exit: Exit.Exit<ReadonlyArray<B>, E>) => {
  for (let i = 0; i < batch.length; i++) {
    const p = batch[i]
    if (p === undefined) continue
    if (exit._tag === "Failure") p.done(Exit.failCause(exit.cause))
    else {
      const result = exit.value[i]
      p.done(result === undefined ? Exit.die(new Error("group commit: missing result")) : Exit.succeed(result))
    }
  }
}

const interrupted = Exit.interrupt(FiberId.none)

export const make = <A, B, E>(options: {
  readonly maxBatch: number
  /** Commits a batch; must return one result per item, in order. */
  readonly commit: (items: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>, E>
}): Effect.Effect<GroupCommit<A, B, E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const max = options.maxBatch
    let queue: Array<Pending<A, B, E>> = []
    let wake: (() => void) | undefined
    let closed = false

    const commitBatch = (batch: ReadonlyArray<Pending<A, B, E>>) => {
      // Exactly once, also when the commit is interrupted (shutdown) before it settles.
      let settled = false
      const finish = (exit: Exit.Exit<ReadonlyArray<B>, E>) => {
        if (settled) return
        settled = true
        settle(batch, exit)
      }
      return options.commit(batch.map((p) => p.item)).pipe(
        Effect.exit,
        Effect.map(finish),
        Effect.onInterrupt(() => Effect.sync(() => finish(Exit.interrupt(FiberId.none)))),
        Effect.zipRight(Metric.update(batchSize, batch.length))
      )
    }

    // Waits for work; after the first item, one macrotask turn lets requests already on the sockets join the batch.
    const next = Effect.async<ReadonlyArray<Pending<A, B, E>>>((resume) => {
      const take = () => {
        const batch = queue.length <= max ? queue : queue.slice(0, max)
        queue = queue.length <= max ? [] : queue.slice(max)
        resume(Effect.succeed(batch))
      }
      const arm = () => {
        if (max === 1) take()
        else setImmediate(take)
      }
      if (queue.length > 0) arm()
      else
        wake = () => {
          wake = undefined
          arm()
        }
      return Effect.sync(() => {
        wake = undefined
      })
    })

    yield* next.pipe(Effect.flatMap(commitBatch), Effect.forever, Effect.forkScoped)

    // Requests still queued at shutdown are told so (the HTTP server has drained before this runs).
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        const rest = queue
        queue = []
        for (const p of rest) p.done(Exit.interrupt(FiberId.none))
      })
    )

    const submitCallback = (item: A, done: (exit: Exit.Exit<B, E>) => void) => {
      if (closed) {
        done(Exit.interrupt(FiberId.none))
        return
      }
      queue.push({ item, done })
      if (wake !== undefined) wake()
    }

    const submit = (item: A): Effect.Effect<B, E> =>
      Effect.async<B, E>((resume) => {
        submitCallback(item, (exit) => resume(exit))
      })

    return { submit, submitCallback }
  })

/**
 * For a committer that groups by itself and keeps submission order (the SQLite writer's worker
 * thread): batches are handed over as soon as they form — `chunk` items, or whatever has
 * arrived by the end of this event-loop turn — without waiting for earlier ones to commit. The
 * committer admits one chunk while this thread reads the next, and the chunks that reach it
 * during a commit's fsync share the following commit. Callback-shaped end to end: no fiber per
 * request or per chunk on the ingest fast path.
 */
export const pipelined = <A, B, E>(options: {
  readonly chunk: number
  /** Commits a batch (possibly together with others): `done` once, with one result per item, in order. */
  readonly commit: (items: ReadonlyArray<A>, done: (exit: Exit.Exit<ReadonlyArray<B>, E>) => void) => void
}): Effect.Effect<GroupCommit<A, B, E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const chunk = Math.max(1, options.chunk)
    let queue: Array<Pending<A, B, E>> = []
    let armed = false
    let closed = false

    const handOver = () => {
      if (queue.length === 0) return
      const batch = queue
      queue = []
      batchSize.unsafeUpdate(batch.length, [])
      options.commit(
        batch.map((p) => p.item),
        (exit) => settle(batch, exit)
      )
    }
    const atEndOfTurn = () => {
      armed = false
      handOver()
    }

    // Requests not yet handed over at shutdown are told so; those handed over are answered by the committer.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        const rest = queue
        queue = []
        for (const p of rest) p.done(interrupted)
      })
    )

    const submitCallback = (item: A, done: (exit: Exit.Exit<B, E>) => void) => {
      if (closed) return done(interrupted)
      queue.push({ item, done })
      if (queue.length >= chunk) handOver()
      else if (!armed) {
        armed = true
        setImmediate(atEndOfTurn)
      }
    }

    const submit = (item: A): Effect.Effect<B, E> => Effect.async<B, E>((resume) => submitCallback(item, resume))

    return { submit, submitCallback }
  })
