/**
 * The public contract of the client: the `HlConnect` service's interface, which the Promise
 * facade and every consumer rely on, and the errors of each method. A method's errors are the ones
 * its endpoint declares in `Api.ts` (its own, its group's, its middleware's) that are answers
 * rather than faults, plus the failures every call can end with.
 */
import type { Effect, Option, Stream } from "effect"
import type { OrderProcessingFailed } from "./Api.js"
import type { InvalidRequest, TransientFailure } from "./Errors.js"
import type {
  AssetItem,
  AssetsListResponse,
  DownloadUrl,
  HealthItem,
  PurchaseRegisterRequest,
  PurchaseValidateBeforePaymentRequest,
  ValidationToken,
  ViewUrl
} from "./Models.js"
import type { PurchaseOutcome, RegistrationOutcome } from "./Outcomes.js"
import type { CallError } from "./Pipeline.js"
import type { DeclaredError, EndpointName as DeclaredEndpointName } from "./Responses.js"
import type { EndpointName, RetryPolicy } from "./RetryPolicy.js"

export type { CallError } from "./Pipeline.js"

/**
 * The errors an endpoint answers with, as declared: without the transient ones (retried, then
 * `HlConnectUnavailable`) and info's 502 `OrderProcessingFailed` (the `Failed` outcome).
 */
export type AnsweredError<N extends DeclaredEndpointName> = Exclude<
  DeclaredError<N>,
  TransientFailure | OrderProcessingFailed
>

export type ValidatePurchaseError = InvalidRequest | AnsweredError<"validatePurchase"> | CallError
export type RegisterPurchaseError = InvalidRequest | AnsweredError<"registerPurchase"> | CallError
export type PurchaseInfoError = InvalidRequest | AnsweredError<"purchaseInfo"> | CallError
export type OrderLineUrlError = InvalidRequest | AnsweredError<"downloadUrl" | "viewUrl"> | CallError
export type CancelOrderLineError = InvalidRequest | AnsweredError<"cancelOrderLine"> | CallError
export type ListAssetsError = InvalidRequest | AnsweredError<"listAssets"> | CallError
export type HealthError = AnsweredError<"health"> | CallError

export interface OrderRef {
  readonly order_id: number
}
export interface OrderLineRef {
  readonly order_id: number
  readonly order_line_id: number
}
export interface RegisterOptions {
  /**
   * Set when this registration may have been sent before — by a process that crashed mid-call,
   * say. A 409 then means "already registered" and succeeds as `AlreadyRegistered`.
   */
  readonly mayHaveBeenSentBefore?: boolean
}

/** The HL Connect client: one method per endpoint of `HlConnectApi`. */
export interface HlConnectService {
  readonly validatePurchase: (
    input: typeof PurchaseValidateBeforePaymentRequest.Encoded
  ) => Effect.Effect<ValidationToken, ValidatePurchaseError>
  readonly registerPurchase: (
    input: typeof PurchaseRegisterRequest.Encoded,
    registerOptions?: RegisterOptions
  ) => Effect.Effect<RegistrationOutcome, RegisterPurchaseError>
  readonly purchaseInfo: (input: OrderRef) => Effect.Effect<PurchaseOutcome, PurchaseInfoError>
  readonly downloadUrl: (input: OrderLineRef) => Effect.Effect<DownloadUrl, OrderLineUrlError>
  readonly viewUrl: (input: OrderLineRef) => Effect.Effect<ViewUrl, OrderLineUrlError>
  readonly cancelOrderLine: (input: OrderLineRef) => Effect.Effect<void, CancelOrderLineError>
  readonly listAssets: (input?: {
    readonly page_size?: number
    readonly last_id?: number
  }) => Effect.Effect<AssetsListResponse, ListAssetsError>
  /** Every asset of the catalog, page after page (keyset paging on `last_id`). */
  readonly assets: (input?: { readonly pageSize?: number }) => Stream.Stream<AssetItem, ListAssetsError>
  readonly health: () => Effect.Effect<ReadonlyArray<HealthItem>, HealthError>
  /** The `X-Environment` of the latest response that carried one (e.g. `sandbox`). */
  readonly environment: Effect.Effect<Option.Option<string>>
  /** The effective retry policy of an endpoint: defaults with this client's overrides. */
  readonly retryPolicy: (endpoint: EndpointName) => RetryPolicy
}
