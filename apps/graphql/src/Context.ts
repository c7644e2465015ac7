/**
 * The GraphQL context of one request: the effect runner, the request's loaders and its upstream
 * gate. Loaders live exactly as long as the request, so an order named in ten places is read
 * once, a URL selected under fourteen aliases is asked of HL Connect once, and nothing is ever
 * served from a previous request. The gate bounds the distinct HL Connect calls (`Upstream`).
 * Everything runs on the request's fork (`Runner.forkFor`): when the client goes away, the
 * request's fibers are interrupted, and with them its HL Connect calls.
 */
import type { OrderLines } from "@hlconnect/store"
import { Effect, type Option, type Runtime } from "effect"
import type { PurchaseStatus } from "./Answers.js"
import * as Loader from "./Loader.js"
import { BatchSources, type UrlRef, urlIdentity } from "./BatchSources.js"
import * as Runner from "./Runner.js"
import type { Gate } from "./Upstream.js"

export interface GraphqlContext {
  readonly run: Runner.Run
  /** Admits one more HL Connect call of this request, or fails with the caller's typed limit. */
  readonly upstream: Gate
  /** Local orders by order number. */
  readonly orders: Loader.Loader<string, Option.Option<OrderLines.Order>>
  /** HL Connect's answer about an order, by its (numeric) order number. */
  readonly purchaseStatus: Loader.Loader<number, PurchaseStatus>
  /** A line's download or view URL, fresh from HL Connect for this request; null while it has none. */
  readonly url: Loader.Loader<UrlRef, string | null>
}

/** `signal` aborts when the request is gone (its client hung up or aborted). */
export const make = (
  runtime: Runtime.Runtime<Runner.ResolverServices>,
  upstream: Gate,
  signal: AbortSignal
): GraphqlContext => {
  const fork = Runner.forkFor(runtime, signal)
  return {
    run: Runner.make(fork),
    upstream,
    orders: Loader.make(fork, "orders", (numbers: ReadonlyArray<string>) =>
      Effect.flatMap(BatchSources, (sources) => sources.orders(numbers))
    ),
    purchaseStatus: Loader.make(fork, "purchaseInfo", (ids: ReadonlyArray<number>) =>
      Effect.flatMap(BatchSources, (sources) => sources.purchaseStatuses(ids, upstream))
    ),
    url: Loader.make(
      fork,
      "url",
      (refs: ReadonlyArray<UrlRef>) => Effect.flatMap(BatchSources, (sources) => sources.freshUrls(refs, upstream)),
      urlIdentity
    )
  }
}
