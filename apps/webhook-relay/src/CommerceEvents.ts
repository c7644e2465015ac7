/**
 * The commerce events the relay accepts (snake_case on the wire, Standard Webhooks envelope
 * `{ type, timestamp?, data }`):
 *
 * - `order.paid`: `data = { order_number, customer: { name, email }, currency?, lines: [{ order_line_id,
 *   asset_id, quantity, unit_price, line_price, validation_token, token_expires_at?, parts?: [{ asset_id,
 *   order_line_id }] }] }`. Prices are decimals in major units (number or string, at most 2 decimals);
 *   `token_expires_at` is the `exp_date` (Unix seconds) HL Connect returned with the token.
 * - `order.refunded`: `data = { order_number, order_line_ids? }` (omitted: every line of the order).
 * - `order.line_cancelled`: `data = { order_number, order_line_ids }`.
 *
 * Ids are HL Connect ids: positive integers, as JSON numbers or digit strings; stored as strings
 * (core's one rule, `HlIdTextFromJson`).
 * The customer's name (at most 200 characters: HL Connect's limit), email and the validation tokens
 * follow core's rule for caller text (`Text`): well-formed, no control characters or line breaks,
 * decoded to their NFC spelling, trimmed.
 */
// Single modules, not the packages: this file is loaded by the inbox writer's worker thread too.
import { HlIdTextFromJson } from "@hlconnect/core/HlId"
import { CustomerName, EmailAddress, ValidationTokenText } from "@hlconnect/core/Text"
import { MinorUnitsFromDecimal, Quantity } from "@hlconnect/fulfilment/PaidOrder"
import { Either, ParseResult, Schema } from "effect"

export const Customer = Schema.Struct({ name: CustomerName, email: EmailAddress })

export const OrderPaidLine = Schema.Struct({
  order_line_id: HlIdTextFromJson,
  asset_id: HlIdTextFromJson,
  quantity: Quantity,
  unit_price: MinorUnitsFromDecimal,
  line_price: MinorUnitsFromDecimal,
  validation_token: ValidationTokenText,
  token_expires_at: Schema.optional(Schema.Int.pipe(Schema.positive({ message: () => "must be Unix seconds" }))),
  parts: Schema.optional(
    Schema.Array(Schema.Struct({ asset_id: HlIdTextFromJson, order_line_id: HlIdTextFromJson })).pipe(
      Schema.maxItems(64, { message: () => "at most 64 parts" })
    )
  )
}).pipe(
  Schema.filter(
    (line) =>
      line.unit_price * line.quantity === line.line_price || {
        path: ["line_price"],
        message: "must equal unit_price × quantity"
      }
  )
)
export type OrderPaidLine = typeof OrderPaidLine.Type

const distinctLineIds = (ids: ReadonlyArray<string>): boolean => new Set(ids).size === ids.length

export const OrderPaid = Schema.Struct({
  order_number: HlIdTextFromJson,
  customer: Customer,
  currency: Schema.optional(
    Schema.String.pipe(Schema.pattern(/^[A-Z]{3}$/, { message: () => "must be an ISO 4217 code like USD" }))
  ),
  lines: Schema.Array(OrderPaidLine).pipe(
    Schema.minItems(1, { message: () => "must list at least one line" }),
    Schema.maxItems(100, { message: () => "at most 100 lines per order" })
  )
}).pipe(
  Schema.filter(
    (order) =>
      distinctLineIds(
        order.lines.flatMap((l) => [l.order_line_id, ...(l.parts ?? []).map((p) => p.order_line_id)])
      ) || {
        path: ["lines"],
        message: "order_line_id values (lines and parts) must be distinct"
      }
  )
)
export type OrderPaid = typeof OrderPaid.Type

const LineIds = Schema.Array(HlIdTextFromJson).pipe(
  Schema.minItems(1, { message: () => "must list at least one line id" }),
  Schema.maxItems(100, { message: () => "at most 100 line ids" }),
  Schema.filter((ids) => distinctLineIds(ids) || "must not repeat a line id")
)

export const OrderRefunded = Schema.Struct({ order_number: HlIdTextFromJson, order_line_ids: Schema.optional(LineIds) })
export type OrderRefunded = typeof OrderRefunded.Type

export const OrderLineCancelled = Schema.Struct({ order_number: HlIdTextFromJson, order_line_ids: LineIds })
export type OrderLineCancelled = typeof OrderLineCancelled.Type

export const CommerceEvent = Schema.Union(
  Schema.Struct({ type: Schema.Literal("order.paid"), timestamp: Schema.optional(Schema.String), data: OrderPaid }),
  Schema.Struct({
    type: Schema.Literal("order.refunded"),
    timestamp: Schema.optional(Schema.String),
    data: OrderRefunded
  }),
  Schema.Struct({
    type: Schema.Literal("order.line_cancelled"),
    timestamp: Schema.optional(Schema.String),
    data: OrderLineCancelled
  })
)
export type CommerceEvent = typeof CommerceEvent.Type

export const eventTypes = ["order.paid", "order.refunded", "order.line_cancelled"] as const
export type CommerceEventType = (typeof eventTypes)[number]

const isEventType = (t: unknown): t is CommerceEventType => eventTypes.some((e) => e === t)

/** Why a body is not an event we accept: 400 (not JSON / no envelope) or 422 (wrong content). */
export class MalformedEvent extends Schema.TaggedError<MalformedEvent>()("MalformedEvent", {
  status: Schema.Literal(400, 422),
  message: Schema.String
}) {}

const decodeEnvelope = Schema.decodeUnknownEither(CommerceEvent, { errors: "first", onExcessProperty: "ignore" })

const describe = (error: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return error.message
  const path = issue.path.map(String).join(".")
  return path === "" ? issue.message : `${path}: ${issue.message}`
}

/** The JSON of a (verified) raw body: 400 when it is not JSON. */
export const parseJson = (body: string): Either.Either<unknown, MalformedEvent> => {
  try {
    return Either.right(JSON.parse(body))
  } catch (error) {
    return Either.left(
      new MalformedEvent({
        status: 400,
        message: `body is not JSON: ${error instanceof Error ? error.message : String(error)}`
      })
    )
  }
}

/** Decodes parsed JSON: 400 without an envelope, 422 for an unknown type or content the schema refuses. */
export const decodeJson = (json: unknown): Either.Either<CommerceEvent, MalformedEvent> => {
  if (typeof json !== "object" || json === null || Array.isArray(json) || !("type" in json)) {
    return Either.left(new MalformedEvent({ status: 400, message: "body must be a JSON object with type and data" }))
  }
  if (!isEventType(json.type)) {
    return Either.left(
      new MalformedEvent({
        status: 422,
        message: `unknown event type ${JSON.stringify(json.type)}; accepted: ${eventTypes.join(", ")}`
      })
    )
  }
  return Either.mapLeft(
    decodeEnvelope(json),
    (error) => new MalformedEvent({ status: 422, message: `${json.type}: ${describe(error)}` })
  )
}

/** Parses and decodes a (verified) raw body. */
export const parse = (body: string): Either.Either<CommerceEvent, MalformedEvent> =>
  Either.flatMap(parseJson(body), decodeJson)
