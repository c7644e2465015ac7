/**
 * A quick yes for the ordinary commerce event, before Schema's interpreter is asked: ingest
 * needs a verdict per request (accept, or say what is wrong), and the full decode costs more
 * than verifying the signature. `surelyAccepted` names the type only of bodies the schemas in
 * `CommerceEvents` accept — a property test holds it to that against the schemas themselves —
 * and gives up whenever it is not sure (odd but valid spellings like " 12 " included), so the
 * schemas stay what decides, and what explains a rejection. Free text (names, email, tokens) is
 * recognised only as plain printable ASCII without surrounding spaces — text core's `Text` rule
 * accepts unchanged (no surrogates, controls or line breaks; NFC and trimmed already); any other
 * string goes to the schemas.
 */
import { hlIdOf } from "@hlconnect/core/HlId"
import { TextLimits } from "@hlconnect/core/Text"
import { MaxQuantity, minorFromMajor } from "@hlconnect/fulfilment/PaidOrder"
import type { CommerceEventType } from "./CommerceEvents.js"

type Json = Readonly<Record<string, unknown>>

const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const email = /^[^\s@]+@[^\s@]+$/
const currency = /^[A-Z]{3}$/

/** An HL Connect id as `HlIdTextFromJson` decodes it (core's `hlIdOf`), or undefined when unsure (spaces around included). */
const wireId = (u: unknown): string | undefined => {
  const id = typeof u === "number" || typeof u === "string" ? hlIdOf(u) : undefined
  return id === undefined ? undefined : String(id)
}

/** Printable ASCII, neither starting nor ending with a space. */
const plainAscii = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/

/** Text the `Text` rule surely accepts as it is, 1 to `max` characters; false when unsure. */
const text = (u: unknown, max: number): boolean => typeof u === "string" && u.length <= max && plainAscii.test(u)

const optionalInt = (u: unknown): boolean =>
  u === undefined || (typeof u === "number" && Number.isSafeInteger(u) && u > 0)

/** A price as `MinorUnitsFromDecimal` decodes it (minor units), or undefined when unsure. */
const price = (u: unknown): number | undefined =>
  typeof u === "string" || typeof u === "number" ? minorFromMajor(u) : undefined

/** Every id is new to `seen` (adds it). */
const fresh = (seen: Set<string>, id: string): boolean => {
  if (seen.has(id)) return false
  seen.add(id)
  return true
}

const paidLine = (line: unknown, seen: Set<string>): boolean => {
  if (!isObject(line)) return false
  const lineId = wireId(line.order_line_id)
  if (lineId === undefined || wireId(line.asset_id) === undefined || !fresh(seen, lineId)) return false
  const quantity = line.quantity
  if (typeof quantity !== "number" || !Number.isSafeInteger(quantity) || quantity < 1 || quantity > MaxQuantity)
    return false
  const unit = price(line.unit_price)
  const total = price(line.line_price)
  if (unit === undefined || total === undefined || unit * quantity !== total) return false
  if (!text(line.validation_token, TextLimits.validationToken) || !optionalInt(line.token_expires_at)) return false
  const parts = line.parts
  if (parts === undefined) return true
  if (!Array.isArray(parts) || parts.length > 64) return false
  for (const part of parts) {
    if (!isObject(part) || wireId(part.asset_id) === undefined) return false
    const partLineId = wireId(part.order_line_id)
    if (partLineId === undefined || !fresh(seen, partLineId)) return false
  }
  return true
}

const orderPaid = (data: Json): boolean => {
  if (wireId(data.order_number) === undefined) return false
  const customer = data.customer
  if (
    !isObject(customer) ||
    !text(customer.name, TextLimits.customerName) ||
    !text(customer.email, TextLimits.emailAddress)
  )
    return false
  if (typeof customer.email !== "string" || !email.test(customer.email)) return false
  if (data.currency !== undefined && (typeof data.currency !== "string" || !currency.test(data.currency))) return false
  const lines = data.lines
  if (!Array.isArray(lines) || lines.length < 1 || lines.length > 100) return false
  const seen = new Set<string>()
  for (const line of lines) if (!paidLine(line, seen)) return false
  return true
}

const lineIds = (u: unknown): boolean => {
  if (!Array.isArray(u) || u.length < 1 || u.length > 100) return false
  const seen = new Set<string>()
  for (const item of u) {
    const id = wireId(item)
    if (id === undefined || !fresh(seen, id)) return false
  }
  return true
}

/** The event's type, only for an envelope `{ type, timestamp?, data }` the `CommerceEvent` schema accepts; else undefined. */
export const surelyAccepted = (json: unknown): CommerceEventType | undefined => {
  if (!isObject(json) || (json.timestamp !== undefined && typeof json.timestamp !== "string")) return undefined
  const data = json.data
  if (!isObject(data)) return undefined
  switch (json.type) {
    case "order.paid":
      return orderPaid(data) ? "order.paid" : undefined
    case "order.refunded":
      return wireId(data.order_number) !== undefined &&
        (data.order_line_ids === undefined || lineIds(data.order_line_ids))
        ? "order.refunded"
        : undefined
    case "order.line_cancelled":
      return wireId(data.order_number) !== undefined && lineIds(data.order_line_ids)
        ? "order.line_cancelled"
        : undefined
    default:
      return undefined
  }
}
