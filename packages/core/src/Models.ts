/**
 * HL Connect wire models, field for field as documented (spec 0.2): snake_case names,
 * required / optional / nullable exactly as the reference says. These schemas are the single
 * source of truth for the HttpApi definition, the client and the sandbox.
 */
// Caller text (`customer`, `token`) follows the one rule in `Text`.
import { CustomerName, ValidationTokenText } from "./Text.js"
import { Schema } from "effect"

/**
 * An optional field the spec does not mark nullable. HL Connect's official SDK accepts `null` for
 * every optional field, so a `null` here decodes as "absent" rather than failing the whole page;
 * the contract check (`@hlconnect/conformance`) still reports it as drift.
 */
const optional = <A, I, R>(schema: Schema.Schema<A, I, R>) => Schema.optionalWith(schema, { nullable: true })
/** An optional field the spec marks nullable: `null` is kept as data. */
const optionalNullable = <A, I, R>(schema: Schema.Schema<A, I, R>) => Schema.optional(Schema.NullOr(schema))

/** A positive integer identifier, as HL Connect's `int ≥ 1` query parameters require. */
const PositiveInt = (identifier: string) =>
  Schema.Int.pipe(Schema.greaterThanOrEqualTo(1), Schema.annotations({ identifier }))

export const AssetId = PositiveInt("AssetId")
/** The vendor's order number; the same number is `order_id` in the GET/DELETE queries. */
export const OrderNumber = PositiveInt("OrderNumber")
export const OrderLineId = PositiveInt("OrderLineId")
export const Quantity = PositiveInt("Quantity")

/** A price must be a finite, non-negative number. */
export const Price = Schema.Number.pipe(
  Schema.finite(),
  Schema.nonNegative(),
  Schema.annotations({ identifier: "Price" })
)

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
  token: ValidationTokenText,
  order_number: OrderNumber,
  order_line_id: OrderLineId,
  /** Total for the quantity. */
  line_item_price: Price,
  unit_price: Price,
  /** The customer's name; may be printed on the asset. */
  customer: CustomerName,
  /** Nullable in the spec: `null` and absent both mean "the whole asset". */
  parts: optionalNullable(Schema.Array(AssetPartForm))
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
  order_id: optional(Schema.Int),
  order_line_id: optional(Schema.Int),
  asset_id: optional(Schema.Int),
  customer: optional(Schema.String),
  unit_price: optional(Schema.Number),
  line_item_price: optional(Schema.Number),
  quantity: optional(Schema.Number),
  /** ISO 3166-1 alpha-2. */
  country_code: optional(Schema.String),
  /** A short-lived credential (~30 min): null until fulfilled; never cache or log it. */
  download_url: optionalNullable(Schema.String),
  view_url: optionalNullable(Schema.String),
  status: optional(OrderItemStatus)
}) {}

export const OrderItems = Schema.Array(OrderItem)

export class PurchaseInProcessingResponse extends Schema.Class<PurchaseInProcessingResponse>(
  "PurchaseInProcessingResponse"
)({
  status: optional(Schema.String)
}) {}

export class OrderProcessingFailedResponse extends Schema.Class<OrderProcessingFailedResponse>(
  "OrderProcessingFailedResponse"
)({
  status: optional(Schema.String),
  message: optional(Schema.String)
}) {}

export class DownloadUrl extends Schema.Class<DownloadUrl>("DownloadUrl")({
  url: Schema.String
}) {}

export class ViewUrl extends Schema.Class<ViewUrl>("ViewUrl")({
  url: optional(Schema.String)
}) {}

/** The body of every documented 4xx/5xx. All fields optional. */
export class ErrorResponse extends Schema.Class<ErrorResponse>("ErrorResponse")({
  name: optional(Schema.String),
  message: optional(Schema.String),
  code: optional(Schema.Number),
  status: optional(Schema.Number)
}) {}

export class HealthItem extends Schema.Class<HealthItem>("HealthItem")({
  name: Schema.String,
  health: Schema.Boolean
}) {}

export const HealthItems = Schema.Array(HealthItem)

/** An instrument of an asset (`InstrumentItem`). */
export const InstrumentItem = Schema.Struct({
  /** Instrument type code. */
  type: optional(Schema.String),
  name: optional(Schema.String)
}).annotations({ identifier: "InstrumentItem" })
export interface InstrumentItem extends Schema.Schema.Type<typeof InstrumentItem> {}

/** A price of an asset by price type (`PriceItem`). */
export const PriceItem = Schema.Struct({
  type_id: optional(Schema.Int),
  /** e.g. `digital`, `print`. */
  type_usage: optional(Schema.String),
  price: optional(Schema.Number)
}).annotations({ identifier: "PriceItem" })
export interface PriceItem extends Schema.Schema.Type<typeof PriceItem> {}

/** A composer, arranger, editor … of an asset (`ContributorItem`). */
export const ContributorItem = Schema.Struct({
  is_primary: optional(Schema.Boolean),
  name: optional(Schema.String),
  /** MusicBrainz id. */
  mbid: optionalNullable(Schema.String),
  /** e.g. `Composer`, `Arranger`. */
  role: optional(Schema.String)
}).annotations({ identifier: "ContributorItem" })
export interface ContributorItem extends Schema.Schema.Type<typeof ContributorItem> {}

/** Cover art, sample pages … (`ImageItem`). */
export const ImageItem = Schema.Struct({
  /** Image type name. */
  name: optional(Schema.String),
  url: optional(Schema.String)
}).annotations({ identifier: "ImageItem" })
export interface ImageItem extends Schema.Schema.Type<typeof ImageItem> {}

/** An available rendering (`RenderingItem`): `type` pdf, scorch, musicxml, embed, audio, streaming; `usage` full or preview. Open strings. */
export const RenderingItem = Schema.Struct({
  type: optional(Schema.String),
  usage: optional(Schema.String)
}).annotations({ identifier: "RenderingItem" })
export interface RenderingItem extends Schema.Schema.Type<typeof RenderingItem> {}

/**
 * A part of an ensemble, or an item of a bundle (`PackageItem`). A partable asset's parts are
 * its packages: each part's own `asset_id`, sold as its own order line (`AssetPartForm`).
 */
export const PackageItem = Schema.Struct({
  asset_id: optional(Schema.Int),
  instrumentation_part_code: optional(Schema.String),
  instrumentation_part_name: optional(Schema.String),
  count: optional(Schema.Int),
  sequence: optional(Schema.Int),
  /** Whether this item is the score. */
  score: optional(Schema.Boolean)
}).annotations({ identifier: "PackageItem" })
export interface PackageItem extends Schema.Schema.Type<typeof PackageItem> {}

/** A related good (`RelatedGoodItem`): `good_type` H hard goods, D digital, V virtual. */
export const RelatedGoodItem = Schema.Struct({
  related_product_id: optional(Schema.Int),
  group_type_id: optional(Schema.Int),
  good_type: optional(Schema.String),
  sheet: optional(Schema.Boolean),
  featured: optional(Schema.Boolean),
  prime_src: optional(Schema.Boolean)
}).annotations({ identifier: "RelatedGoodItem" })
export interface RelatedGoodItem extends Schema.Schema.Type<typeof RelatedGoodItem> {}

/** A song of a medley (`MedleyAssetItem`). */
export const MedleyAssetItem = Schema.Struct({
  name: optional(Schema.String),
  song_catalog_id: optionalNullable(Schema.String),
  hl_song_id: optionalNullable(Schema.String),
  sequence: optionalNullable(Schema.Int)
}).annotations({ identifier: "MedleyAssetItem" })
export interface MedleyAssetItem extends Schema.Schema.Type<typeof MedleyAssetItem> {}

/** User-generated content or customisation options (`UsergenItem`). */
export const UsergenItem = Schema.Struct({
  black_box: optional(Schema.Boolean),
  arrangeable: optional(Schema.Boolean),
  vendor_product_type: optional(Schema.String),
  seller_id: optional(Schema.Int),
  authorized_performers: optional(Schema.Int),
  content_provider: optional(Schema.String),
  adaptation_product_id: optionalNullable(Schema.Int),
  adaptation_vendor: optionalNullable(Schema.String),
  vendor_song_id: optionalNullable(Schema.String),
  /** A decimal rate. */
  commission_override_rate: optionalNullable(Schema.Number),
  publisher_name: optionalNullable(Schema.String),
  medley_assets: optional(Schema.Array(MedleyAssetItem))
}).annotations({ identifier: "UsergenItem" })
export interface UsergenItem extends Schema.Schema.Type<typeof UsergenItem> {}

/**
 * Catalog metadata (`AssetItem`): 35 fields, every one optional, in the spec's order. Unknown
 * extra fields are ignored, not rejected; open strings (`asset_type`, `format_short_name` …) keep
 * any value.
 */
export class AssetItem extends Schema.Class<AssetItem>("AssetItem")({
  asset_id: optional(Schema.Int),
  /** e.g. PVG, SSA. */
  format_short_name: optional(Schema.String),
  /** e.g. Piano/Vocal/Guitar. */
  format: optionalNullable(Schema.String),
  page_count: optionalNullable(Schema.Int),
  title: optional(Schema.String),
  description: optional(Schema.String),
  /** Hal Leonard's song identifier. */
  song_number: optionalNullable(Schema.Int),
  public_domain: optional(Schema.Boolean),
  /** The company providing the asset. */
  external_ref: optionalNullable(Schema.String),
  external_ref_id: optionalNullable(Schema.Int),
  /** Choral voicing, e.g. SATB. */
  voicing: optionalNullable(Schema.String),
  /** Seconds. */
  performance_time: optionalNullable(Schema.Int),
  difficulty_level_low: optionalNullable(Schema.Number),
  difficulty_level_high: optionalNullable(Schema.Number),
  /** Minimum quantity per purchase (choral titles). */
  min_qty: optionalNullable(Schema.Int),
  /** Beats per minute. */
  tempo: optionalNullable(Schema.Int),
  /** Sellable world-wide; otherwise only in `countries`. */
  world: optional(Schema.Boolean),
  /** Suggested retail price in the vendor's currency. */
  retail_price: optionalNullable(Schema.Number),
  /** Sheet Music Direct id. */
  smd_id: optionalNullable(Schema.String),
  /** e.g. FOLIO, CHMBK, PCK. */
  asset_type: optional(Schema.String),
  explicit: optional(Schema.Boolean),
  /** Whether an ensemble's parts (its `packages`) may be sold individually. */
  partable: optional(Schema.Boolean),
  /** ISO 3166-1 alpha-2 codes where it may be sold. */
  countries: optionalNullable(Schema.Array(Schema.String)),
  instruments: optionalNullable(Schema.Array(InstrumentItem)),
  categories: optionalNullable(Schema.Array(Schema.String)),
  images: optionalNullable(Schema.Array(ImageItem)),
  contributors: optionalNullable(Schema.Array(ContributorItem)),
  keywords: optionalNullable(Schema.Array(Schema.String)),
  related_goods: optionalNullable(Schema.Array(RelatedGoodItem)),
  renderings: optionalNullable(Schema.Array(RenderingItem)),
  series: optionalNullable(Schema.Array(Schema.String)),
  skills: optionalNullable(Schema.Array(Schema.String)),
  usergens: optionalNullable(Schema.Array(UsergenItem)),
  prices: optionalNullable(Schema.Array(PriceItem)),
  packages: optionalNullable(Schema.Array(PackageItem))
}) {}

/** A catalog page. `last_id` and `next_page` are required and nullable (null on the last page). */
export class AssetsListResponse extends Schema.Class<AssetsListResponse>("AssetsListResponse")({
  assets: Schema.Array(AssetItem),
  last_id: Schema.NullOr(Schema.Int),
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
