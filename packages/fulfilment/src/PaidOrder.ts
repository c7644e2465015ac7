/**
 * A paid order as a shop reports it (the relay's `order.paid`, the GraphQL facade's
 * `registerPurchase`) and the one mapping from it to the store's lines, so every entry point
 * records a purchase the same way before `Fulfilment.registerLine` sends it.
 *
 * Field names follow the commerce event (`order.paid`): ids are HL Connect ids as decimal
 * strings, prices are already in minor units (cents), and `token_expires_at` is the `exp_date`
 * (Unix seconds) HL Connect returned with the token.
 */
import type { OrderLines } from "@hlconnect/store"
import { Duration, Equal, Option, ParseResult, Redacted, Schema, type SchemaAST } from "effect"

/**
 * A price in major units (3.99) in minor units (399), or undefined unless it is non-negative
 * with at most 2 decimals. 3.999 is refused; binary noise like 0.1 + 0.2 is not. A string
 * ("3.99", as a shop may send it) is read exactly, with no binary floating point involved.
 */
export const minorFromMajor = (major: number | string): number | undefined => {
  if (typeof major === "string") {
    const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(major.trim())
    return m === null ? undefined : Number(m[1]) * 100 + Number((m[2] ?? "").padEnd(2, "0"))
  }
  const minor = Math.round(major * 100)
  return Number.isFinite(major) && major >= 0 && major <= 1e12 && Math.abs(minor - major * 100) < 1e-6
    ? minor
    : undefined
}

/** Minor units (399) in major units (3.99), as HL Connect and the shop's events state prices. */
export const majorFromMinor = (minor: number): number => minor / 100

const toMinor = (major: number | string, ast: SchemaAST.AST) => {
  const minor = minorFromMajor(major)
  return minor === undefined
    ? ParseResult.fail(
        new ParseResult.Type(ast, major, "must be a non-negative amount with at most 2 decimals, like 3.99")
      )
    : ParseResult.succeed(minor)
}

/** `minorFromMajor` as a schema, for callers that send decimals as numbers. */
export const MinorUnitsFromMajor = Schema.transformOrFail(Schema.Number, Schema.Int, {
  strict: true,
  decode: (major, _, ast) => toMinor(major, ast),
  encode: (minor) => ParseResult.succeed(majorFromMinor(minor))
})

/** `minorFromMajor` as a schema for a wire that sends a decimal as a number or a string. */
export const MinorUnitsFromDecimal = Schema.transformOrFail(Schema.Union(Schema.String, Schema.Number), Schema.Int, {
  strict: true,
  decode: (major, _, ast) => toMinor(major, ast),
  encode: (minor) => ParseResult.succeed(majorFromMinor(minor))
})

/** Most copies one line may sell: a shop's sanity bound, the same for every entry point. */
export const MaxQuantity = 100_000

/** A line's quantity as every entry point accepts it (validation and registration alike): 1 to `MaxQuantity`. */
export const Quantity = Schema.Int.pipe(
  Schema.between(1, MaxQuantity, { message: () => `must be an integer between 1 and ${MaxQuantity}` })
)

export const PaidPart = Schema.Struct({ asset_id: Schema.String, order_line_id: Schema.String })
export type PaidPart = typeof PaidPart.Type

export const PaidLine = Schema.Struct({
  order_line_id: Schema.String,
  asset_id: Schema.String,
  quantity: Schema.Int,
  /** Minor units. */
  unit_price: Schema.Int,
  /** Minor units: the total for the quantity. */
  line_price: Schema.Int,
  validation_token: Schema.String,
  token_expires_at: Schema.optional(Schema.Int),
  parts: Schema.optional(Schema.Array(PaidPart))
})
export type PaidLine = typeof PaidLine.Type

export const PaidOrder = Schema.Struct({
  order_number: Schema.String,
  customer: Schema.Struct({ name: Schema.String, email: Schema.String }),
  currency: Schema.String,
  lines: Schema.Array(PaidLine)
})
export type PaidOrder = typeof PaidOrder.Type

/**
 * How long a line is left to the worker that recorded it or started registering it (it is
 * calling HL Connect right now) before the reconciler takes it over, e.g. after that worker
 * crashed. Longer than a registration can take with all its retries (30 s + one attempt), so a
 * reconciler never sends a registration while another worker's is still in flight.
 */
export const registrationGrace = Duration.minutes(2)

/** The store's input for one line of a paid order: state `paid`, due for a check at `nextCheckAt`. */
export const newOrderLine = (
  order: PaidOrder,
  line: PaidLine,
  options: { readonly nextCheckAt: number }
): OrderLines.NewOrderLine => ({
  orderNumber: order.order_number,
  orderLineId: line.order_line_id,
  asset: line.asset_id,
  quantity: line.quantity,
  unitPriceMinor: line.unit_price,
  totalPriceMinor: line.line_price,
  currency: order.currency,
  customerEmail: order.customer.email,
  customerName: order.customer.name,
  // A credential: redacted from here on.
  validationToken: Redacted.make(line.validation_token),
  ...(line.token_expires_at === undefined ? {} : { tokenExpiresAt: line.token_expires_at * 1000 }),
  ...(line.parts === undefined
    ? {}
    : { parts: line.parts.map((p) => ({ asset: p.asset_id, orderLineId: p.order_line_id })) }),
  nextCheckAt: options.nextCheckAt
})

/** `newOrderLine` for every line of the order. */
export const newOrderLines = (
  order: PaidOrder,
  options: { readonly nextCheckAt: number }
): ReadonlyArray<OrderLines.NewOrderLine> => order.lines.map((line) => newOrderLine(order, line, options))

/** What makes two records of a line the same purchase (the token is a credential for it, not part of it). */
export type ContentField =
  | "asset"
  | "quantity"
  | "unitPriceMinor"
  | "totalPriceMinor"
  | "currency"
  | "customerEmail"
  | "customerName"
  | "parts"

const sameParts = (
  stored: ReadonlyArray<{ readonly asset: string; readonly orderLineId: string }>,
  wanted: ReadonlyArray<{ readonly asset: string; readonly orderLineId: string }>
) =>
  stored.length === wanted.length &&
  stored.every((p, i) => p.asset === wanted[i]?.asset && p.orderLineId === wanted[i]?.orderLineId)

/**
 * The fields in which a stored line differs from a new record of it: empty when a repeated
 * request describes the same purchase (so it may be answered from the store).
 */
export const contentDifferences = (
  stored: OrderLines.OrderLine,
  wanted: OrderLines.NewOrderLine
): ReadonlyArray<ContentField> => {
  const differs: Array<ContentField> = []
  if (stored.asset !== wanted.asset) differs.push("asset")
  if (stored.quantity !== wanted.quantity) differs.push("quantity")
  if (stored.unitPriceMinor !== wanted.unitPriceMinor) differs.push("unitPriceMinor")
  if (stored.totalPriceMinor !== wanted.totalPriceMinor) differs.push("totalPriceMinor")
  if (stored.currency !== wanted.currency) differs.push("currency")
  if (stored.customerEmail !== wanted.customerEmail) differs.push("customerEmail")
  if (!Equal.equals(stored.customerName, Option.fromNullable(wanted.customerName))) differs.push("customerName")
  if (
    !sameParts(
      Option.getOrElse(stored.parts, () => []),
      wanted.parts ?? []
    )
  )
    differs.push("parts")
  return differs
}

/** Whether the stored line holds exactly this token (compared without ever exposing either). */
export const holdsToken = (stored: OrderLines.OrderLine, token: Redacted.Redacted<string> | undefined): boolean =>
  token !== undefined && Option.exists(stored.validationToken, (held) => Redacted.value(held) === Redacted.value(token))
