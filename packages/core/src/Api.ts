/**
 * The one HttpApi definition of HL Connect (spec 0.2). The sandbox serves it with
 * HttpApiBuilder; the client sends requests to the same paths with the same schemas; the OpenAPI
 * document is derived from it. Every documented status is declared.
 */
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { Schema } from "effect"
import {
  AssetNotFound,
  BadRequest,
  Forbidden,
  InvalidOrderStatus,
  OrderAlreadyExists,
  OrderNotFound,
  ServerError,
  Unauthorized,
  ValidationRejected
} from "./Errors.js"
import {
  AssetsListQuery,
  AssetsListResponse,
  DownloadUrl,
  ErrorResponse,
  HealthItems,
  OrderItems,
  OrderLineQuery,
  OrderProcessingFailedResponse,
  OrderQuery,
  PurchaseInProcessingResponse,
  PurchaseRegisterRequest,
  PurchaseValidateBeforePaymentRequest,
  ValidationToken,
  ViewUrl
} from "./Models.js"

/**
 * A domain error as it travels: HL Connect's bodies are plain `ErrorResponse`s with no `_tag`, so
 * each tagged error is a transformation of that wire shape, annotated with its status.
 */
const onTheWire = <A extends { readonly message: string }>(
  error: Schema.Schema<A>,
  status: number,
  fromBody: (body: ErrorResponse) => A,
  name: (error: A) => string
) =>
  Schema.transform(ErrorResponse, error, {
    strict: true,
    decode: fromBody,
    encode: (e) => ErrorResponse.make({ name: name(e), message: e.message, code: status, status })
  }).annotations(HttpApiSchema.annotations({ status }))

const messageOr = (fallback: string) => (body: ErrorResponse) => body.message ?? fallback

export const UnauthorizedWire = onTheWire(
  Schema.typeSchema(Unauthorized),
  401,
  (b) => new Unauthorized({ message: messageOr("unauthorized")(b) }),
  () => "Unauthorized"
)
export const BadRequestWire = onTheWire(
  Schema.typeSchema(BadRequest),
  400,
  (b) => new BadRequest({ message: messageOr("bad request")(b) }),
  () => "BadRequest"
)
export const ForbiddenWire = onTheWire(
  Schema.typeSchema(Forbidden),
  403,
  (b) => new Forbidden({ message: messageOr("vendor access check failed")(b) }),
  () => "Forbidden"
)
export const AssetNotFoundWire = onTheWire(
  Schema.typeSchema(AssetNotFound),
  404,
  (b) => new AssetNotFound({ message: messageOr("asset does not exist")(b) }),
  () => "AssetNotFound"
)
export const OrderNotFoundWire = onTheWire(
  Schema.typeSchema(OrderNotFound),
  404,
  (b) => new OrderNotFound({ message: messageOr("order not found")(b) }),
  () => "OrderNotFound"
)
export const ValidationRejectedWire = onTheWire(
  Schema.typeSchema(ValidationRejected),
  422,
  (b) =>
    new ValidationRejected(
      b.name === undefined
        ? { message: messageOr("validation failed")(b) }
        : { message: messageOr("validation failed")(b), reason: b.name }
    ),
  (e) => e.reason ?? "ValidationRejected"
)
export const OrderAlreadyExistsWire = onTheWire(
  Schema.typeSchema(OrderAlreadyExists),
  409,
  (b) => new OrderAlreadyExists({ message: messageOr("order already exists for these parameters")(b) }),
  () => "OrderAlreadyExists"
)
export const InvalidOrderStatusWire = onTheWire(
  Schema.typeSchema(InvalidOrderStatus),
  400,
  (b) => new InvalidOrderStatus({ message: messageOr("invalid order status for cancellation")(b) }),
  () => "InvalidOrderStatus"
)
export const ServerErrorWire = onTheWire(
  Schema.typeSchema(ServerError),
  500,
  (b) => new ServerError({ status: 500, message: messageOr("internal server error")(b) }),
  () => "InternalServerError"
)

/**
 * 502 on `GET /purchase/info`: the order's processing failed. On the wire it is an error status,
 * so the definition declares it as one; the client turns it into the `Failed` outcome — only when
 * the body is this JSON with its `status`: gateways answer 502 too (HTML, empty, their own JSON),
 * and those are faults to retry, not a verdict on the order.
 */
export class OrderProcessingFailed extends Schema.TaggedError<OrderProcessingFailed>()("OrderProcessingFailed", {
  status: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String)
}) {}
export const OrderProcessingFailedWire = Schema.transform(
  OrderProcessingFailedResponse,
  Schema.typeSchema(OrderProcessingFailed),
  {
    strict: true,
    decode: (b) => new OrderProcessingFailed(b),
    // An Error's `message` is "" when unset: that is no message on the wire.
    encode: ({ status, message }) =>
      OrderProcessingFailedResponse.make({
        ...(status === undefined ? {} : { status }),
        ...(message === undefined || message === "" ? {} : { message })
      })
  }
).annotations(HttpApiSchema.annotations({ status: 502 }))

/** Bearer authentication; `GET /health` is the only endpoint without it. */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("@hlconnect/core/Authorization", {
  failure: UnauthorizedWire,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export class PurchaseGroup extends HttpApiGroup.make("purchase")
  .add(
    HttpApiEndpoint.post("validatePurchase", "/purchase/validate-purchase-before-payment")
      .setPayload(PurchaseValidateBeforePaymentRequest)
      .addSuccess(ValidationToken)
      .addError(BadRequestWire)
      .addError(AssetNotFoundWire)
      .addError(ValidationRejectedWire)
      .annotate(OpenApi.Summary, "Validate purchase before payment")
  )
  .add(
    HttpApiEndpoint.post("registerPurchase", "/purchase/register")
      .setPayload(PurchaseRegisterRequest)
      .addSuccess(HttpApiSchema.Created)
      .addError(AssetNotFoundWire)
      .addError(OrderAlreadyExistsWire)
      .addError(ValidationRejectedWire)
      .annotate(OpenApi.Summary, "Register a new purchase transaction (asynchronous)")
  )
  .add(
    HttpApiEndpoint.get("purchaseInfo", "/purchase/info")
      .setUrlParams(OrderQuery)
      .addSuccess(OrderItems)
      .addSuccess(PurchaseInProcessingResponse, { status: 202 })
      .addError(OrderNotFoundWire)
      .addError(OrderProcessingFailedWire)
      .annotate(OpenApi.Summary, "Retrieve purchase order information")
  )
  .add(
    HttpApiEndpoint.get("downloadUrl", "/purchase/download-url")
      .setUrlParams(OrderLineQuery)
      .addSuccess(DownloadUrl)
      .addError(OrderNotFoundWire)
      .annotate(OpenApi.Summary, "Get asset download URL")
  )
  .add(
    HttpApiEndpoint.get("viewUrl", "/purchase/view-url")
      .setUrlParams(OrderLineQuery)
      .addSuccess(ViewUrl)
      .addError(OrderNotFoundWire)
      .annotate(OpenApi.Summary, "Get asset view URL")
  )
  .add(
    HttpApiEndpoint.del("cancelOrderLine", "/purchase/cancel")
      .setUrlParams(OrderLineQuery)
      .addSuccess(HttpApiSchema.Created)
      .addError(InvalidOrderStatusWire)
      .addError(OrderNotFoundWire)
      .annotate(OpenApi.Summary, "Cancel purchase order line item")
  )
  .addError(ServerErrorWire)
  .middleware(Authorization) {}

export class AssetsGroup extends HttpApiGroup.make("assets")
  .add(
    HttpApiEndpoint.get("listAssets", "/assets/list")
      .setUrlParams(AssetsListQuery)
      .addSuccess(AssetsListResponse)
      .addError(ForbiddenWire)
      .annotate(OpenApi.Summary, "List catalog assets (keyset paging)")
  )
  .addError(ServerErrorWire)
  .middleware(Authorization) {}

export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(HealthItems).annotate(OpenApi.Summary, "Service health"))
  .addError(ServerErrorWire) {}

export class HlConnectApi extends HttpApi.make("HlConnect")
  .add(PurchaseGroup)
  .add(AssetsGroup)
  .add(HealthGroup)
  .annotate(OpenApi.Title, "HL Connect")
  .annotate(OpenApi.Version, "0.2")
  .annotate(OpenApi.Description, "Hal Leonard's purchase API for digital sheet music vendors.") {}

/** Production host. */
export const ProductionBaseUrl = "https://hlconnect-api.mu.se"
/** HL Connect's own sandbox host (not this project's local sandbox). */
export const SandboxBaseUrl = "https://hlconnect-api-sandbox.mu.se"
