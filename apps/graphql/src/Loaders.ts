/**
 * What the per-request loaders (see `Loader`, `Context`) load, a batch at a time: HL Connect's
 * answers and local orders. HL Connect has no batch endpoint, so a batch of orders is one
 * `purchaseInfo` per distinct order, run concurrently (bounded); the store answers a batch of
 * orders in two queries (`OrderLines.findOrders`).
 */
import { HlConnect, type OrderLineUrlError, type OrderNotFound, type PurchaseInfoError } from "@hlconnect/core"
import { type InvalidInput, OrderLines, type StorageError } from "@hlconnect/store"
import { Array as Arr, Effect, Exit, Option } from "effect"
import { type ProblemData, problemData } from "./schema/Problems.js"
import type { PurchaseStatus } from "./schema/Purchase.js"

type Order = OrderLines.Order

/** Keeps `IN (...)` lists well within every engine's parameter limits. */
const MaxKeysPerQuery = 500

export interface LoaderOptions {
  /** Upstream calls one batch may have in flight at once. */
  readonly upstreamConcurrency: number
}

export class Loaders extends Effect.Service<Loaders>()("@hlconnect/graphql/Loaders", {
  effect: (options: LoaderOptions) =>
    Effect.gen(function* () {
      const hl = yield* HlConnect
      const orderLines = yield* OrderLines.OrderLines
      const concurrency = options.upstreamConcurrency

      /** HL Connect's answer, with its 404 as data: `OrderNotFound` is an answer, not a failure. */
      const purchaseStatus = (orderId: number): Effect.Effect<PurchaseStatus, Exclude<PurchaseInfoError, OrderNotFound>> =>
        hl.purchaseInfo({ order_id: orderId }).pipe(
          Effect.catchTag("OrderNotFound", (notFound): Effect.Effect<ProblemData<OrderNotFound>> => Effect.succeed(problemData(notFound)))
        )

      return {
        purchaseStatuses: (orderIds: ReadonlyArray<number>) =>
          Effect.forEach(orderIds, (id) => Effect.exit(purchaseStatus(id)), { concurrency }),
        orders: (orderNumbers: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Exit.Exit<Option.Option<Order>, StorageError | InvalidInput>>> =>
          Effect.forEach(Arr.chunksOf(orderNumbers, MaxKeysPerQuery), (chunk) =>
            Effect.map(Effect.exit(orderLines.findOrders(chunk)), (exit) =>
              chunk.map((n) => Exit.map(exit, (found) => Option.fromNullable(found.get(n))))
            )
          ).pipe(Effect.map(Arr.flatten)),
        /** Download and view URLs are credentials: fetched fresh every time, never loaded through a memo. */
        freshUrl: (
          kind: "download" | "view",
          orderId: number,
          orderLineId: number
        ): Effect.Effect<{ readonly url?: string | undefined }, OrderLineUrlError> => {
          const ref = { order_id: orderId, order_line_id: orderLineId }
          return kind === "download" ? hl.downloadUrl(ref) : hl.viewUrl(ref)
        }
      } as const
    })
}) {}
