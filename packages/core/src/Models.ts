/**
 * HL Connect wire models, field for field as documented (spec 0.2): snake_case names,
 * required / optional / nullable exactly as the reference says. These schemas are the single
 * source of truth for the HttpApi definition, the client and the sandbox.
 */
import { Schema } from "effect"

/** A positive integer identifier, as HL Connect's `int ≥ 1` query parameters require. */
const PositiveInt = (identifier: string) =>
  Schema.Int.pipe(Schema.greaterThanOrEqualTo(1), Schema.annotations({ identifier }))

export const AssetId = PositiveInt("AssetId")
/** The vendor's order number; the same number is `order_id` in the GET/DELETE queries. */
export const OrderNumber = PositiveInt("OrderNumber")
export const OrderLineId = PositiveInt("OrderLineId")
export const Quantity = PositiveInt("Quantity")

/** A price must be a finite, non-negative number. */
export const Price = Schema.Number.pipe(Schema.finite(), Schema.nonNegative(), Schema.annotations({ identifier: "Price" }))

const NonEmptyTrimmed = (identifier: string, maxLength: number) =>
  Schema.Trim.pipe(Schema.nonEmptyString(), Schema.maxLength(maxLength), Schema.annotations({ identifier }))

/** The buyer's public IP (v4 or v6): HL Connect derives the country from it. */
export const CustomerIp = Schema.String.pipe(
  Schema.filter((s) => isIp(s) || `expected an IPv4 or IPv6 address, got ${JSON.stringify(s)}`),
  Schema.annotations({ identifier: "CustomerIp" })
)

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const IPV6 = /^[0-9a-fA-F:]+(:\d{1,3}(\.\d{1,3}){3})?$/
const isIp = (s: string) => IPV4.test(s) || (s.includes(":") && s.length <= 45 && IPV6.test(s))

export class PurchaseValidateBeforePaymentRequest extends Schema.Class<PurchaseValidateBeforePaymentRequest>(
  "PurchaseValidateBeforePaymentRequest"
)({
  asset_id: AssetId,
  customer_ip: CustomerIp,
  quantity: Quantity
}) {}

export class ValidationToken extends Schema.Class<ValidationToken>("ValidationToken")({
  token: Schema.String,
  /** Expiry, UNIX seconds. */
  exp_date: Schema.Int
}) {}

export class AssetPartForm extends Schema.Class<AssetPartForm>("AssetPartForm")({
  asset_id: AssetId,
  order_line_id: OrderLineId
}) {}

export class PurchaseRegisterRequest extends Schema.Class<PurchaseRegisterRequest>("PurchaseRegisterRequest")({
  token: NonEmptyTrimmed("ValidationTokenString", 4096),
  order_number: OrderNumber,
  order_line_id: OrderLineId,
  /** Total for the quantity. */
  line_item_price: Price,
  unit_price: Price,
  /** The customer's name; may be printed on the asset. */
  customer: NonEmptyTrimmed("Customer", 200),
  parts: Schema.optional(Schema.Array(AssetPartForm))
}) {}

/**
 * A line's fulfilment status. The spec has no enum: COMPLETED, PROCESSING and FAILED are seen,
 * the DAM also knows CANCELLED, and anything else is kept as data rather than failing the decode.
 */
export const OrderItemStatus = Schema.String.annotations({
  identifier: "OrderItemStatus",
  examples: ["COMPLETED", "PROCESSING", "FAILED", "CANCELLED"]
})
export const KnownOrderItemStatuses = ["COMPLETED", "PROCESSING", "FAILED", "CANCELLED"] as const

export class OrderItem extends Schema.Class<OrderItem>("OrderItem")({
  order_id: Schema.optional(Schema.Int),
  order_line_id: Schema.optional(Schema.Int),
  asset_id: Schema.optional(Schema.Int),
  customer: Schema.optional(Schema.String),
  unit_price: Schema.optional(Schema.Number),
  line_item_price: Schema.optional(Schema.Number),
  quantity: Schema.optional(Schema.Number),
  /** ISO 3166-1 alpha-2. */
  country_code: Schema.optional(Schema.String),
  /** A short-lived credential (~30 min): null until fulfilled; never cache or log it. */
  download_url: Schema.optional(Schema.NullOr(Schema.String)),
  view_url: Schema.optional(Schema.NullOr(Schema.String)),
  status: Schema.optional(OrderItemStatus)
}) {}

export const OrderItems = Schema.Array(OrderItem)

export class PurchaseInProcessingResponse extends Schema.Class<PurchaseInProcessingResponse>(
  "PurchaseInProcessingResponse"
)({
  status: Schema.optional(Schema.String)
}) {}

export class OrderProcessingFailedResponse extends Schema.Class<OrderProcessingFailedResponse>(
  "OrderProcessingFailedResponse"
)({
  status: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String)
}) {}

export class DownloadUrl extends Schema.Class<DownloadUrl>("DownloadUrl")({
  url: Schema.String
}) {}

export class ViewUrl extends Schema.Class<ViewUrl>("ViewUrl")({
  url: Schema.optional(Schema.String)
}) {}

/** The body of every documented 4xx/5xx. All fields optional. */
export class ErrorResponse extends Schema.Class<ErrorResponse>("ErrorResponse")({
  name: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  code: Schema.optional(Schema.Number),
  status: Schema.optional(Schema.Number)
}) {}

export class HealthItem extends Schema.Class<HealthItem>("HealthItem")({
  name: Schema.String,
  health: Schema.Boolean
}) {}

export const HealthItems = Schema.Array(HealthItem)

export class AssetPrice extends Schema.Class<AssetPrice>("AssetPrice")({
  currency: Schema.optional(Schema.String),
  price: Schema.optional(Schema.Number)
}) {}

export class AssetContributor extends Schema.Class<AssetContributor>("AssetContributor")({
  name: Schema.optional(Schema.String),
  role: Schema.optional(Schema.String)
}) {}

/** Catalog metadata; every field optional. Unknown extra fields are ignored, not rejected. */
export class AssetItem extends Schema.Class<AssetItem>("AssetItem")({
  asset_id: Schema.optional(Schema.Int),
  title: Schema.optional(Schema.String),
  format: Schema.optional(Schema.String),
  page_count: Schema.optional(Schema.Number),
  /** Minimum quantity per purchase (choral titles). */
  min_qty: Schema.optional(Schema.Number),
  /** Sellable world-wide; otherwise only in `countries`. */
  world: Schema.optional(Schema.Boolean),
  countries: Schema.optional(Schema.Array(Schema.String)),
  retail_price: Schema.optional(Schema.Number),
  prices: Schema.optional(Schema.Array(AssetPrice)),
  contributors: Schema.optional(Schema.Array(AssetContributor)),
  instruments: Schema.optional(Schema.Array(Schema.String)),
  /** Ensemble parts, each sold as its own order line. */
  parts: Schema.optional(Schema.Array(Schema.Int))
}) {}

export class AssetsListResponse extends Schema.Class<AssetsListResponse>("AssetsListResponse")({
  assets: Schema.Array(AssetItem),
  last_id: Schema.NullOr(Schema.Int),
  /** Null on the last page. */
  next_page: Schema.NullOr(Schema.String)
}) {}

/** Query parameters. Query strings carry text, so numbers are decoded from strings. */
const QueryInt = (min: number) => Schema.NumberFromString.pipe(Schema.int(), Schema.greaterThanOrEqualTo(min))

export const OrderQuery = Schema.Struct({ order_id: QueryInt(1) })
export const OrderLineQuery = Schema.Struct({ order_id: QueryInt(1), order_line_id: QueryInt(1) })
export const AssetsListQuery = Schema.Struct({
  page_size: Schema.optional(QueryInt(1)),
  last_id: Schema.optional(QueryInt(0))
})

/**
 * An HL Connect id written as text (order number, order line id, asset id), the one parser every
 * package uses: ASCII decimal digits, no sign, no leading zero, a safe integer. Anything else
 * (`""`, `"007"`, `"1' OR '1'='1"`, Arabic-Indic digits) cannot name anything at HL Connect.
 */
export const parseHlId = (text: string): number | undefined =>
  /^[1-9][0-9]{0,15}$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : undefined
