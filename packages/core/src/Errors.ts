/**
 * The tagged errors of HL Connect, named for the domain. Each method of the client lists exactly
 * the ones its endpoint can produce. None of them ever carries the bearer token or a URL.
 */
import { Schema } from "effect"

/** 401: the bearer token is missing, wrong or revoked. Retrying does not help. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}) {}

/** 403 on the catalog: the vendor access check failed (the token is valid, the vendor may not list assets). */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  message: Schema.String
}) {}

/** 400 on validate: HL Connect refused the request as malformed. */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", {
  message: Schema.String
}) {}

/** 404 on validate / register: the asset does not exist. */
export class AssetNotFound extends Schema.TaggedError<AssetNotFound>()("AssetNotFound", {
  message: Schema.String
}) {}

/** 404 on info / download-url / view-url / cancel: no such order (or order line). */
export class OrderNotFound extends Schema.TaggedError<OrderNotFound>()("OrderNotFound", {
  message: Schema.String
}) {}

/**
 * 422: HL Connect refused the purchase (region, quantity, price, token …). `message` is the
 * server's own words; `reason` is its machine-readable `name`, when it sends one.
 */
export class ValidationRejected extends Schema.TaggedError<ValidationRejected>()("ValidationRejected", {
  message: Schema.String,
  reason: Schema.optional(Schema.String)
}) {}

/** 409 on register: (order number, order line) was already registered. */
export class OrderAlreadyExists extends Schema.TaggedError<OrderAlreadyExists>()("OrderAlreadyExists", {
  message: Schema.String
}) {}

/** 400 on cancel: the line's status no longer allows cancellation. */
export class InvalidOrderStatus extends Schema.TaggedError<InvalidOrderStatus>()("InvalidOrderStatus", {
  message: Schema.String
}) {}

/** 500 as HL Connect documents it (an ErrorResponse). Transient: retried, then `HlConnectUnavailable`. */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", {
  status: Schema.Number,
  message: Schema.String
}) {}

/**
 * 429 / 503: HL Connect (or a proxy in front of it) asked us to wait, possibly with
 * `Retry-After`. Transient. A 429 was refused before any work; a 503 may come from a gateway that
 * gave up while HL Connect went on with the request.
 */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  status: Schema.Number,
  retryAfterMillis: Schema.optional(Schema.Number)
}) {}

/** The connection failed (refused, reset, DNS …) before a full response arrived. Transient. */
export class ConnectionFailed extends Schema.TaggedError<ConnectionFailed>()("ConnectionFailed", {
  message: Schema.String,
  /** Whether the request may have reached HL Connect (it matters for idempotent registration). */
  mayHaveReachedServer: Schema.Boolean
}) {}

/** One attempt ran past its deadline. Transient. */
export class AttemptTimedOut extends Schema.TaggedError<AttemptTimedOut>()("AttemptTimedOut", {
  timeoutMillis: Schema.Number
}) {}

/**
 * A status nobody documented, or a body that is not the documented JSON (an HTML 502 from a
 * proxy, an empty 500). `excerpt` is the first few hundred characters of the body. Transient
 * when its status is one gateways answer with (408, 429, 500, 502, 503, 504).
 */
export class UnexpectedResponse extends Schema.TaggedError<UnexpectedResponse>()("UnexpectedResponse", {
  status: Schema.Number,
  excerpt: Schema.String
}) {}

/** The failures worth another attempt. */
export const TransientFailure = Schema.Union(
  ServerError,
  RateLimited,
  ConnectionFailed,
  AttemptTimedOut,
  UnexpectedResponse
)
export type TransientFailure = typeof TransientFailure.Type

/** Transient failures ran out of attempts or time. `lastCause` is the last one seen. */
export class HlConnectUnavailable extends Schema.TaggedError<HlConnectUnavailable>()("HlConnectUnavailable", {
  endpoint: Schema.String,
  attempts: Schema.Number,
  lastCause: TransientFailure
}) {
  override get message() {
    return `HL Connect ${this.endpoint} unavailable after ${this.attempts} attempt(s): ${describe(this.lastCause)}`
  }
}

/** The response came from another environment than the one configured (e.g. a production token on the sandbox). */
export class EnvironmentMismatch extends Schema.TaggedError<EnvironmentMismatch>()("EnvironmentMismatch", {
  expected: Schema.String,
  actual: Schema.NullOr(Schema.String)
}) {}

/** The caller's input is invalid; nothing was sent. `field` is the offending path, e.g. `quantity`. */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  field: Schema.String,
  message: Schema.String
}) {}

const describe = (cause: TransientFailure): string => {
  switch (cause._tag) {
    case "ServerError":
      return `HTTP ${cause.status} ${cause.message}`
    case "RateLimited":
      return `HTTP ${cause.status} (rate limited)`
    case "ConnectionFailed":
      return `connection failed: ${cause.message}`
    case "AttemptTimedOut":
      return `attempt timed out after ${cause.timeoutMillis} ms`
    case "UnexpectedResponse":
      return `unexpected HTTP ${cause.status}`
  }
}

/** Errors every authenticated call can end with, besides its own. */
export type CommonError =
  | HlConnectUnavailable
  | UnexpectedResponse
  | EnvironmentMismatch
  | InvalidRequest
  | Unauthorized
