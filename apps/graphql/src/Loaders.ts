/**
 * What the per-request loaders (see `Loader`, `Context`) load, a batch at a time: HL Connect's
 * answers and local orders. HL Connect has no batch endpoint, so a batch of orders is one
 * `purchaseInfo` per distinct order, run concurrently (bounded); the store answers a batch in
 * two queries.
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { HlConnect, type OrderLineUrlError, type OrderNotFound, type PurchaseInfoError } from "@hlconnect/core"
import { OrderLines, StorageError } from "@hlconnect/store"
import { Array as Arr, Effect, Exit, Option, Schema } from "effect"
import { type ProblemData, problemData } from "./schema/Problems.js"
import type { PurchaseStatus } from "./schema/Purchase.js"

type Order = OrderLines.Order

/** The `orders` row: the order's own columns (its lines come from `order_lines`). */
const OrderHead = Schema.Struct({
  orderNumber: Schema.String,
  nextCheckAt: Schema.OptionFromNullOr(Schema.Union(Schema.Number, Schema.NumberFromString))
})

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
      const sql = yield* SqlClient
      const concurrency = options.upstreamConcurrency

      /** HL Connect's answer, with its 404 as data: `OrderNotFound` is an answer, not a failure. */
      const purchaseStatus = (orderId: number): Effect.Effect<PurchaseStatus, Exclude<PurchaseInfoError, OrderNotFound>> =>
        hl.purchaseInfo({ order_id: orderId }).pipe(
          Effect.catchTag("OrderNotFound", (notFound): Effect.Effect<ProblemData<OrderNotFound>> => Effect.succeed(problemData(notFound)))
        )

      /**
       * Orders in two queries, instead of two per order through `OrderLines.findOrder` (the store
       * has no multi-order read yet). Rows decode with the store's own `OrderLine` schema, so
       * the model cannot drift from the store's.
       */
      const findOrders = (orderNumbers: ReadonlyArray<string>) =>
        Effect.gen(function* () {
          const orders = yield* sql`SELECT order_number, next_check_at FROM orders WHERE ${sql.in("order_number", orderNumbers)}`
          const lines = yield* sql`SELECT * FROM order_lines WHERE ${sql.in("order_number", orderNumbers)}
            ORDER BY order_number, order_line_id`
          const heads = yield* Schema.decodeUnknown(Schema.Array(OrderHead))(orders)
          const decoded = yield* Schema.decodeUnknown(Schema.Array(OrderLines.OrderLine))(lines)
          const linesOf = Arr.groupBy(decoded, (line) => line.orderNumber)
          return new Map(
            heads.map((head): [string, Order] => [
              head.orderNumber,
              { orderNumber: head.orderNumber, nextCheckAt: head.nextCheckAt, lines: linesOf[head.orderNumber] ?? [] }
            ])
          )
        }).pipe(Effect.mapError((cause) => new StorageError({ message: `Cannot read orders: ${cause.message}`, cause })))

      return {
        purchaseStatuses: (orderIds: ReadonlyArray<number>) =>
          Effect.forEach(orderIds, (id) => Effect.exit(purchaseStatus(id)), { concurrency }),
        orders: (orderNumbers: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Exit.Exit<Option.Option<Order>, StorageError>>> =>
          Effect.forEach(Arr.chunksOf(orderNumbers, MaxKeysPerQuery), (chunk) =>
            Effect.map(Effect.exit(findOrders(chunk)), (exit) =>
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
