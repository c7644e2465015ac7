/**
 * The normal answers of HL Connect that are not errors: a registration that was accepted (or
 * had already been accepted), and the three states of an order.
 */
import { Schema } from "effect"
import { OrderItem } from "./Models.js"

/** 201: registration initiated; fulfilment is asynchronous (poll `purchaseInfo`). */
export class Registered extends Schema.TaggedClass<Registered>()("Registered", {}) {}

/**
 * 409 after an earlier attempt of this same call may have reached HL Connect (or the caller said
 * it may have been sent before): the registration exists, which is what the caller wanted.
 */
export class AlreadyRegistered extends Schema.TaggedClass<AlreadyRegistered>()("AlreadyRegistered", {}) {}

export const RegistrationOutcome = Schema.Union(Registered, AlreadyRegistered)
export type RegistrationOutcome = typeof RegistrationOutcome.Type

/** 200: the order is complete; each line carries its own status (lines succeed or fail on their own). */
export class Completed extends Schema.TaggedClass<Completed>()("Completed", {
  items: Schema.Array(OrderItem)
}) {}

/** 202: still processing. */
export class Processing extends Schema.TaggedClass<Processing>()("Processing", {
  status: Schema.optional(Schema.String)
}) {}

/** 502: the order's processing failed. A domain outcome, never retried. */
export class Failed extends Schema.TaggedClass<Failed>()("Failed", {
  status: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String)
}) {}

export const PurchaseOutcome = Schema.Union(Completed, Processing, Failed)
export type PurchaseOutcome = typeof PurchaseOutcome.Type
