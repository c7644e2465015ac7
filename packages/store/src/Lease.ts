/**
 * Leases, the store's one claim rule: who holds an item (inbox event, delivery, order) and for
 * how long, and the bounds every claim and renewal is checked against.
 */
import { Schema } from "effect"

/**
 * Proof that a worker holds an item until `expiresAt` (epoch ms). Completing,
 * failing or renewing an item requires presenting the lease; once it expires
 * the item becomes claimable again and the old lease is worthless.
 */
export class Lease extends Schema.Class<Lease>("Lease")({
  /** Key of the leased item (event id, delivery id or order number). */
  itemId: Schema.String,
  /** Random token minted per claim; a re-claim by anyone mints a new one. */
  leaseId: Schema.String,
  owner: Schema.String,
  expiresAt: Schema.Number
}) {}

/** Lease durations: at least 1 ms, at most one day (a longer lease hides a dead worker). */
export const LeaseMillis = Schema.Int.pipe(Schema.between(1, 86_400_000))

/** How many items one claim may take. */
export const ClaimLimit = Schema.Int.pipe(Schema.between(1, 1000))

/** "Give me up to `limit` due items, leased to `owner` for `leaseMs`." */
export const ClaimRequest = Schema.Struct({
  owner: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  limit: ClaimLimit,
  leaseMs: LeaseMillis
})
export type ClaimRequest = typeof ClaimRequest.Type
