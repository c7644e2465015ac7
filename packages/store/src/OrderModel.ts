/**
 * The order-line model: a stored line, an order and a claimed order, and the inputs the
 * repository (`OrderLines.ts`) accepts, each a schema so typed callers and raw JSON are checked alike.
 */
import { CustomerName, EmailAddress, SingleLineText, ValidationTokenText } from "@hlconnect/core"
import { type Option, Schema } from "effect"
import { boundedText, DbInt, DbJson, DbMillis, Identifier, NonNegativeInt, PositiveInt } from "./internal/codec.js"
import type { Lease } from "./Lease.js"
import { OrderLineState } from "./OrderLineState.js"

export type { Page } from "./internal/keyset.js"

/** One vendor order line as stored. Field encodings match the database columns. */
export class OrderLine extends Schema.Class<OrderLine>("OrderLine")({
  orderNumber: Schema.String,
  orderLineId: Schema.String,
  asset: Schema.String,
  quantity: DbInt,
  unitPriceMinor: DbInt,
  totalPriceMinor: DbInt,
  currency: Schema.String,
  customerEmail: Schema.String,
  customerName: Schema.OptionFromNullOr(Schema.String),
  /** The vendor validation token is a credential: redacted in logs and prints. */
  validationToken: Schema.OptionFromNullOr(Schema.Redacted(Schema.String)),
  tokenExpiresAt: Schema.OptionFromNullOr(DbMillis),
  state: OrderLineState,
  attentionReason: Schema.OptionFromNullOr(Schema.String),
  attempts: DbInt,
  nextCheckAt: Schema.OptionFromNullOr(DbMillis),
  lastError: Schema.OptionFromNullOr(Schema.String),
  remoteSnapshot: Schema.OptionFromNullOr(DbJson),
  /** Ensemble parts registered with this line (each an HL Connect order line of its own). */
  parts: Schema.OptionFromNullOr(
    Schema.parseJson(Schema.Array(Schema.Struct({ asset: Schema.String, orderLineId: Schema.String })))
  ),
  version: DbInt,
  createdAt: DbMillis,
  updatedAt: DbMillis,
  /** `TraceContext` of the line's last change: the reconciler's work continues it. */
  traceContext: Schema.optional(Schema.NullOr(Schema.String))
}) {}

/** All lines of one vendor order. */
export interface Order {
  readonly orderNumber: string
  readonly nextCheckAt: Option.Option<number>
  readonly lines: ReadonlyArray<OrderLine>
}

/** A leased order: the claimer handles every line of it until the lease expires. */
export interface OrderClaim {
  readonly lease: Lease
  readonly attempts: number
  readonly lines: ReadonlyArray<OrderLine>
}

// Inputs (Type === Encoded, so typed callers and raw JSON are checked alike)

const Millis = Schema.Int.pipe(Schema.nonNegative())
const Snapshot = Schema.Unknown

export const OrderLineKey = Schema.Struct({ orderNumber: Identifier, orderLineId: Identifier })
export type OrderLineKey = typeof OrderLineKey.Type

/** An asset as the caller names it (HL Connect's id, in decimal, from every entry point today). */
const AssetText = SingleLineText({ identifier: "AssetText", maxLength: 512 })

// Caller text follows core's one rule (`Text`): well-formed, no control characters, NFC, bounded.
export const NewOrderLine = Schema.Struct({
  orderNumber: Identifier,
  orderLineId: Identifier,
  asset: AssetText,
  quantity: PositiveInt,
  unitPriceMinor: NonNegativeInt,
  totalPriceMinor: NonNegativeInt,
  currency: Schema.String.pipe(Schema.pattern(/^[A-Z]{3}$/, { message: () => "must be an ISO 4217 code like EUR" })),
  customerEmail: EmailAddress,
  customerName: Schema.optional(CustomerName),
  validationToken: Schema.optional(Schema.RedactedFromSelf(ValidationTokenText)),
  tokenExpiresAt: Schema.optional(Millis),
  parts: Schema.optional(
    Schema.Array(Schema.Struct({ asset: AssetText, orderLineId: Identifier })).pipe(Schema.maxItems(64))
  ),
  /** When the line is first due for a check; defaults to now, so an abandoned line is picked up. */
  nextCheckAt: Schema.optional(Millis)
})
export type NewOrderLine = typeof NewOrderLine.Type

const CheckFields = {
  expectedVersion: PositiveInt,
  /** `null` clears the next check; omitted leaves it as is. */
  nextCheckAt: Schema.optional(Schema.NullOr(Millis)),
  /** `null` clears the last error; longer messages are truncated (diagnostic text). */
  lastError: Schema.optional(Schema.NullOr(Schema.String)),
  remoteSnapshot: Schema.optional(Snapshot),
  attempts: Schema.optional(NonNegativeInt)
}

export const TransitionRequest = Schema.Struct({
  ...OrderLineKey.fields,
  ...CheckFields,
  to: OrderLineState,
  /** Required when moving to `needs_attention`. */
  reason: Schema.optional(boundedText(1000).pipe(Schema.minLength(1)))
})
export type TransitionRequest = typeof TransitionRequest.Type

export const RecordCheckRequest = Schema.Struct({ ...OrderLineKey.fields, ...CheckFields })
export type RecordCheckRequest = typeof RecordCheckRequest.Type

export const ReplaceTokenRequest = Schema.Struct({
  ...OrderLineKey.fields,
  expectedVersion: PositiveInt,
  token: Schema.RedactedFromSelf(ValidationTokenText),
  /** Omitted: the new token's expiry is unknown (the old one's no longer applies). */
  tokenExpiresAt: Schema.optional(Millis),
  /** When the line is next due for a check; defaults to now (as on create). */
  nextCheckAt: Schema.optional(Millis)
})
export type ReplaceTokenRequest = typeof ReplaceTokenRequest.Type

export const AuditCandidatesRequest = Schema.Struct({
  /** Epoch ms: orders whose last line ended at or after this. */
  endedSince: NonNegativeInt,
  limit: Schema.Int.pipe(Schema.between(1, 100_000))
})
export type AuditCandidatesRequest = typeof AuditCandidatesRequest.Type

export const ListByStateRequest = Schema.Struct({
  state: OrderLineState,
  limit: Schema.Int.pipe(Schema.between(1, 500)),
  cursor: Schema.optional(Schema.String)
})
export type ListByStateRequest = typeof ListByStateRequest.Type

/** Options of `releaseOrder`. */
export const ReleaseRequest = Schema.Struct({ nextCheckAt: Schema.optional(Schema.NullOr(Millis)) })
