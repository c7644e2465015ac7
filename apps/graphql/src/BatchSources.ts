/**
 * What the per-request loaders (see `Loader`, `Context`) load, a batch at a time: HL Connect's
 * answers, download and view URLs, and local orders. HL Connect has no batch endpoint, so a batch
 * is one call per distinct key, run concurrently (bounded), each admitted first by the request's
 * `Upstream` gate; the store answers a batch of orders in two queries (`OrderLines.findOrders`).
 */
import { HlConnect, type OrderLineUrlError, type OrderNotFound, type PurchaseInfoError } from "@hlconnect/core"
import { type InvalidInput, OrderLines, type StorageError } from "@hlconnect/store"
import { Array as Arr, Effect, Exit, Option } from "effect"
import { type ProblemData, type PurchaseStatus, problemData } from "./Answers.js"
import type { UpstreamBudgetExceeded, UpstreamRateLimited } from "./Errors.js"
import type { Gate } from "./Upstream.js"

type Order = OrderLines.Order

/** Keeps `IN (...)` lists well within every engine's parameter limits. */
const MaxKeysPerQuery = 500

/** One download or view URL of an order line. */
export interface UrlRef {
  readonly kind: "download" | "view"
  readonly orderId: number
  readonly orderLineId: number
}

/** Two references to the same URL, as one key. */
export const urlIdentity = (ref: UrlRef): string => `${ref.kind}:${ref.orderId}:${ref.orderLineId}`

export interface BatchSourceOptions {
  /** Upstream calls one batch may have in flight at once. */
  readonly upstreamConcurrency: number
}

export class BatchSources extends Effect.Service<BatchSources>()("@hlconnect/graphql/BatchSources", {
  effect: (options: BatchSourceOptions) =>
    Effect.gen(function* () {
      const hl = yield* HlConnect
      const orderLines = yield* OrderLines.OrderLines
      const concurrency = options.upstreamConcurrency

      /** HL Connect's answer, with its 404 as data: `OrderNotFound` is an answer, not a failure. */
      const purchaseStatus = (
        orderId: number
      ): Effect.Effect<PurchaseStatus, Exclude<PurchaseInfoError, OrderNotFound>> =>
        hl
          .purchaseInfo({ order_id: orderId })
          .pipe(
            Effect.catchTag(
              "OrderNotFound",
              (notFound): Effect.Effect<ProblemData<OrderNotFound>> => Effect.succeed(problemData(notFound))
            )
          )

      return {
        /** Each call first admitted by the request's `gate` (its budget and the key's rate). */
        purchaseStatuses: (orderIds: ReadonlyArray<number>, gate: Gate) =>
          Effect.forEach(orderIds, (id) => Effect.exit(Effect.zipRight(gate.admit, purchaseStatus(id))), {
            concurrency
          }),
        orders: (
          orderNumbers: ReadonlyArray<string>
        ): Effect.Effect<ReadonlyArray<Exit.Exit<Option.Option<Order>, StorageError | InvalidInput>>> =>
          Effect.forEach(Arr.chunksOf(orderNumbers, MaxKeysPerQuery), (chunk) =>
            Effect.map(Effect.exit(orderLines.findOrders(chunk)), (exit) =>
              chunk.map((n) => Exit.map(exit, (found) => Option.fromNullable(found.get(n))))
            )
          ).pipe(Effect.map(Arr.flatten)),
        /**
         * Fresh download or view URLs (null: none yet, or HL Connect does not know the line). They
         * are credentials: asked of HL Connect for each request (its loader shares one among the
         * request's aliases and repeats), never cached beyond it, never logged.
         */
        freshUrls: (
          refs: ReadonlyArray<UrlRef>,
          gate: Gate
        ): Effect.Effect<
          ReadonlyArray<Exit.Exit<string | null, OrderLineUrlError | UpstreamBudgetExceeded | UpstreamRateLimited>>
        > =>
          Effect.forEach(
            refs,
            ({ kind, orderId, orderLineId }) => {
              const ref = { order_id: orderId, order_line_id: orderLineId }
              return Effect.exit(
                Effect.zipRight(gate.admit, kind === "download" ? hl.downloadUrl(ref) : hl.viewUrl(ref)).pipe(
                  Effect.map((answer) => answer.url ?? null),
                  Effect.catchTag("OrderNotFound", () => Effect.succeed(null))
                )
              )
            },
            { concurrency }
          )
      } as const
    })
}) {}
