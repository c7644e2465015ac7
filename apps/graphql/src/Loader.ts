/**
 * DataLoader's scheduling over Effect. `load(key)` calls made in the same tick are collected and
 * one effect loads the batch's distinct keys; each key settles with its own exit, so one failing
 * key fails only the fields that asked for it. Promises are memoized per key for the loader's
 * life: one loader per GraphQL request, so nothing is cached beyond the request. A batch runs on
 * the request's `Fork`: when the client goes away, the batch is interrupted with the request.
 *
 * (Effect's `Request`/`RequestResolver` do the same, but cost a fiber and a cache entry per
 * reference; a query naming 50 orders in 100 places measured several times slower that way.)
 */
import { Effect, Exit, Metric, MetricBoundaries } from "effect"
import type { GraphQLResolveInfo } from "graphql"
import { type Fork, pathOf, type ResolverServices, settle } from "./Runner.js"

/** How many distinct keys each batch carried: shows batching at work in `/metrics`. */
export const batchSize = Metric.histogram(
  "graphql_loader_batch_size",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 8 }),
  "Distinct keys per loader batch, by loader"
)

export interface Loader<K, A> {
  readonly load: (key: K, info?: GraphQLResolveInfo) => Promise<A>
}

/**
 * `loadMany` gets distinct keys and answers one exit per key, in the same order; an exit missing
 * from its answer is a defect of that key.
 */
export const make = <K, A, E>(
  fork: Fork,
  name: string,
  loadMany: (keys: ReadonlyArray<K>) => Effect.Effect<ReadonlyArray<Exit.Exit<A, E>>, never, ResolverServices>,
  /** What makes two keys the same, for keys that are not primitives (default: the key itself). */
  identity: (key: K) => unknown = (key) => key
): Loader<K, A> => {
  const memo = new Map<unknown, Promise<A>>()
  const size = Metric.tagged(batchSize, "loader", name)
  interface Pending {
    readonly key: K
    readonly field: string | undefined
    readonly resolve: (value: A) => void
    readonly reject: (error: unknown) => void
  }
  let queue: Array<Pending> = []

  const flush = () => {
    const batch = queue
    queue = []
    fork(
      Effect.zipRight(
        Metric.update(size, batch.length),
        Effect.flatMap(loadMany(batch.map((p) => p.key)), (exits) =>
          Effect.forEach(
            batch,
            (p, i) =>
              settle(exits[i] ?? Exit.die(new Error(`${name}: no answer for a key`)), p.field, p.resolve, p.reject),
            { discard: true }
          )
        )
      ),
      (error) => {
        for (const p of batch) p.reject(error)
      }
    )
  }

  return {
    load: (key, info) => {
      const id = identity(key)
      const known = memo.get(id)
      if (known !== undefined) return known
      const promise = new Promise<A>((resolve, reject) => {
        if (queue.length === 0) setImmediate(flush)
        queue.push({ key, field: pathOf(info), resolve, reject })
      })
      memo.set(id, promise)
      return promise
    }
  }
}
