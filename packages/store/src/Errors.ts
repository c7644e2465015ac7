/**
 * The store's typed failures, one tag each, shared by every repository: what callers `catchTag`.
 */
import { Schema } from "effect"

/** A state-machine move the current state does not allow (never applied). */
export class IllegalTransition extends Schema.TaggedError<IllegalTransition>()("IllegalTransition", {
  entity: Schema.String,
  id: Schema.String,
  from: Schema.String,
  to: Schema.String
}) {
  override get message() {
    return `${this.entity} ${this.id}: illegal transition ${this.from} -> ${this.to}`
  }
}

/** Compare-and-set lost: someone else updated the row since it was read. */
export class StaleVersion extends Schema.TaggedError<StaleVersion>()("StaleVersion", {
  entity: Schema.String,
  id: Schema.String,
  expected: Schema.Number,
  actual: Schema.Number
}) {
  override get message() {
    return `${this.entity} ${this.id}: expected version ${this.expected}, found ${this.actual}`
  }
}

/** The caller no longer holds the lease (expired, reclaimed or already completed). */
export class LeaseLost extends Schema.TaggedError<LeaseLost>()("LeaseLost", {
  entity: Schema.String,
  id: Schema.String,
  leaseId: Schema.String
}) {
  override get message() {
    return `${this.entity} ${this.id}: lease ${this.leaseId} is no longer held`
  }
}

/** Input rejected before touching the database. */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  field: Schema.String,
  message: Schema.String
}) {}

export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  entity: Schema.String,
  id: Schema.String
}) {
  override get message() {
    return `${this.entity} ${this.id} not found`
  }
}

/** Any failure of the database itself (connection, constraint, undecodable row). */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  message: Schema.String,
  cause: Schema.Defect
}) {}
