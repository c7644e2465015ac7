/**
 * The GraphQL context of one request: the effect runner and the request's loaders. Loaders
 * live exactly as long as the request, so an order named in ten places is read once, and
 * nothing is ever served from a previous request.
 */
import type { OrderLines } from "@hlconnect/store"
import { Effect, type Option, type Runtime } from "effect"
import * as Loader from "./Loader.js"
import { Loaders } from "./Loaders.js"
import * as Runner from "./Runner.js"
import type { PurchaseStatus } from "./schema/Purchase.js"

export interface GraphqlContext {
  readonly run: Runner.Run
  /** Local orders by order number. */
  readonly orders: Loader.Loader<string, Option.Option<OrderLines.Order>>
  /** HL Connect's answer about an order, by its (numeric) order number. */
  readonly purchaseStatus: Loader.Loader<number, PurchaseStatus>
}

export const make = (runtime: Runtime.Runtime<Runner.ResolverServices>): GraphqlContext => ({
  run: Runner.make(runtime),
  orders: Loader.make(runtime, "orders", (numbers: ReadonlyArray<string>) =>
    Effect.flatMap(Loaders, (loaders) => loaders.orders(numbers))
  ),
  purchaseStatus: Loader.make(runtime, "purchaseInfo", (ids: ReadonlyArray<number>) =>
    Effect.flatMap(Loaders, (loaders) => loaders.purchaseStatuses(ids))
  )
})
