/**
 * The relay's admin API as one HttpApi definition: every path, body, query, answer and error with
 * its status. `Admin.ts` serves it with `HttpApiBuilder`; operators' tools and the tests call it
 * with `HttpApiClient.make(AdminApi, …)`; its OpenAPI document is served at `/admin/docs`
 * (Swagger UI) and `/admin/openapi.json`. Nothing here is retyped anywhere else.
 *
 * The wire format is the one the hand-built router answered before: JSON with snake_case fields,
 * times as ISO 8601 strings, and every refusal `{ error, message }` (`error` a stable code) —
 * never a `_tag`. Request schemas are left unannotated on purpose: a refusal's `message` is the
 * schema's own description of the problem, and an identifier would change it.
 */
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { Inbox, Outbox } from "@hlconnect/store"
import { Duration, Schema } from "effect"

// ---------------------------------------------------------------------------------------------
// Errors: tagged in code, `{ error, message }` on the wire
// ---------------------------------------------------------------------------------------------

/**
 * An error as it travels: the body is `{ error: <code>, message }`; the tagged error is a
 * transformation of it, annotated with its status.
 */
const onTheWire = <A extends { readonly message: string }, Code extends string>(
  error: Schema.Schema<A>,
  code: Schema.Schema<Code>,
  status: number,
  fromBody: (body: { readonly error: Code; readonly message: string }) => A,
  codeOf: (error: A) => Code
) =>
  Schema.transform(Schema.Struct({ error: code, message: Schema.String }), error, {
    strict: true,
    decode: fromBody,
    encode: (e) => ({ error: codeOf(e), message: e.message })
  }).annotations(HttpApiSchema.annotations({ status }))

/** An error with one code: `{ error: code, message }` on the wire. */
const withCode = <A extends { readonly message: string }, I, const Code extends string>(
  error: Schema.Schema<A, I> & (new (props: { readonly message: string }) => A),
  code: Code,
  status: number
) =>
  onTheWire(
    Schema.typeSchema(error),
    Schema.Literal(code),
    status,
    (b) => new error({ message: b.message }),
    () => code
  )

/** 400: a malformed body, query parameter or page cursor. */
export class AdminBadRequest extends Schema.TaggedError<AdminBadRequest>()("AdminBadRequest", {
  message: Schema.String
}) {}
export const AdminBadRequestWire = withCode(AdminBadRequest, "bad_request", 400)

/** 401: no `Authorization: Bearer <RELAY_ADMIN_TOKEN>`, or another token (answered with `www-authenticate: Bearer`). */
export class AdminUnauthorized extends Schema.TaggedError<AdminUnauthorized>()("AdminUnauthorized", {
  message: Schema.String
}) {}
export const AdminUnauthorizedWire = withCode(AdminUnauthorized, "unauthorized", 401)

/** 404: no such subscriber, inbox event or delivery. */
export class AdminNotFound extends Schema.TaggedError<AdminNotFound>()("AdminNotFound", { message: Schema.String }) {}
export const AdminNotFoundWire = withCode(AdminNotFound, "not_found", 404)

/** 409: the item is not in a state the request applies to (or changed meanwhile). */
export class AdminConflict extends Schema.TaggedError<AdminConflict>()("AdminConflict", { message: Schema.String }) {}
export const AdminConflictWire = withCode(AdminConflict, "conflict", 409)

/** Why a well-formed request is refused: a value out of bounds, a bad secret, a subscriber URL the guard refuses. */
export const RejectionCode = Schema.Literal(
  "invalid_input",
  "invalid_secret",
  "invalid_url",
  "credentials_in_url",
  "https_required",
  "private_address",
  "unresolvable_host"
)
export type RejectionCode = typeof RejectionCode.Type

/** 422: the request is well formed and refused; `code` says why. */
export class AdminRejected extends Schema.TaggedError<AdminRejected>()("AdminRejected", {
  code: RejectionCode,
  message: Schema.String
}) {}
export const AdminRejectedWire = onTheWire(
  Schema.typeSchema(AdminRejected),
  RejectionCode,
  422,
  (b) => new AdminRejected({ code: b.error, message: b.message }),
  (e) => e.code
)

/** 500: storage failed; the relay's log says why (the answer never does). */
export class AdminInternal extends Schema.TaggedError<AdminInternal>()("AdminInternal", { message: Schema.String }) {}
export const AdminInternalWire = withCode(AdminInternal, "internal", 500)

/** 503: `RELAY_ADMIN_TOKEN` is not set, so the admin API is off. */
export class AdminDisabled extends Schema.TaggedError<AdminDisabled>()("AdminDisabled", { message: Schema.String }) {}
export const AdminDisabledWire = withCode(AdminDisabled, "admin_disabled", 503)

/** `Authorization: Bearer $RELAY_ADMIN_TOKEN` on every admin endpoint (checked by `BearerAuth`). */
export class AdminAuthorization extends HttpApiMiddleware.Tag<AdminAuthorization>()(
  "@hlconnect/webhook-relay/AdminAuthorization",
  {
    failure: Schema.Union(AdminUnauthorizedWire, AdminDisabledWire),
    security: { bearer: HttpApiSecurity.bearer }
  }
) {}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/** An ISO 8601 time. */
const Time = Schema.String
const Id = Schema.Struct({ id: Schema.String })

/** One of a subscriber's active signing secrets: its hint and expiry (`null`: the newest, no expiry). Never the secret. */
export const SecretHint = Schema.Struct({
  id: Schema.String,
  hint: Schema.String,
  created_at: Time,
  expires_at: Schema.NullOr(Time)
})

/** A subscriber: never its secret; its failing streak when it has one. */
export const Subscriber = Schema.Struct({
  id: Schema.String,
  url: Schema.String,
  secret_hint: Schema.String,
  secrets: Schema.Array(SecretHint),
  events: Schema.Array(Schema.String),
  enabled: Schema.Boolean,
  disabled_reason: Schema.NullOr(Schema.String),
  disabled_at: Schema.NullOr(Time),
  created_at: Time,
  failing_since: Schema.NullOr(Time),
  last_failure_at: Schema.NullOr(Time),
  disables_at: Schema.NullOr(Time),
  failure_warning: Schema.NullOr(Schema.String)
})
export type Subscriber = typeof Subscriber.Type

/** A subscriber with the secret just created: the only time it is shown. */
export const SubscriberWithSecret = Schema.Struct({ ...Subscriber.fields, secret: Schema.String })
export type SubscriberWithSecret = typeof SubscriberWithSecret.Type

/** An inbound event, without its body (it holds validation tokens, credentials). */
export const InboxEvent = Schema.Struct({
  id: Schema.String,
  source: Schema.String,
  type: Schema.String,
  state: Inbox.InboxState,
  attempts: Schema.Number,
  received_at: Time,
  next_attempt_at: Time,
  last_error: Schema.NullOr(Schema.String),
  processed_at: Schema.NullOr(Time)
})
export type InboxEvent = typeof InboxEvent.Type

/** A replayed inbound event, and how many of its lines were put back for the workflow (`reset_lines`). */
export const ReplayedInboxEvent = Schema.Struct({ ...InboxEvent.fields, lines_reset: Schema.Number })

export const Delivery = Schema.Struct({
  id: Schema.String,
  event_id: Schema.String,
  subscriber_id: Schema.String,
  state: Outbox.DeliveryState,
  attempts: Schema.Number,
  next_attempt_at: Time,
  last_status_code: Schema.NullOr(Schema.Number),
  last_error: Schema.NullOr(Schema.String),
  delivered_at: Schema.NullOr(Time),
  dead_at: Schema.NullOr(Time)
})
export type Delivery = typeof Delivery.Type

/** One page, oldest first; `next_cursor` is `null` on the last page. */
const Page = <A, I>(item: Schema.Schema<A, I>) =>
  Schema.Struct({ items: Schema.Array(item), next_cursor: Schema.NullOr(Schema.String) })
export const InboxPage = Page(InboxEvent)
export const DeliveryPage = Page(Delivery)
const Items = <A, I>(item: Schema.Schema<A, I>) => Schema.Struct({ items: Schema.Array(item) })

/** An outbound event of an order, with its per-order sequence and payload as sent to subscribers. */
export const OrderEvent = Schema.Struct({
  id: Schema.String,
  type: Schema.String,
  sequence: Schema.Number,
  created_at: Time,
  data: Schema.Unknown
})
export type OrderEvent = typeof OrderEvent.Type

/** One page of a bulk replay: how many went back to pending, how many had moved meanwhile, where the next page starts (`null`: nothing after it). */
export const ReplayAnswer = Schema.Struct({
  replayed: Schema.Number,
  skipped: Schema.Number,
  next_cursor: Schema.NullOr(Schema.String)
})
export type ReplayAnswer = typeof ReplayAnswer.Type

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

export const NewSubscriberBody = Schema.Struct({
  url: Schema.String,
  events: Schema.optionalWith(Schema.Array(Schema.String), { default: () => ["*"] }),
  secret: Schema.optional(Schema.String)
})
export const ReasonBody = Schema.Struct({ reason: Schema.String })
export const RotateBody = Schema.Struct({
  secret: Schema.optional(Schema.String),
  /** How long the secrets in use keep signing next to the new one; default RELAY_SECRET_ROTATION_OVERLAP, 0 revokes them now. */
  overlap_seconds: Schema.optional(Schema.Int.pipe(Schema.between(0, Duration.toSeconds(Duration.days(30)))))
})
/** `reset_lines: true` first moves the event's `needs_attention` lines back to `paid` / `cancel_requested`. */
export const ReplayBody = Schema.Struct({ reset_lines: Schema.optionalWith(Schema.Boolean, { default: () => false }) })
const Since = Schema.DateFromString.pipe(Schema.validDate())
/** A bulk replay is one bounded page: at most `limit` items from `cursor` (a `next_cursor` it answered) on. */
const ReplayPage = {
  limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1000)), { default: () => 100 }),
  cursor: Schema.optional(Schema.String)
}
export const BulkReplayBody = Schema.Struct({
  subscriber_id: Schema.optional(Schema.String),
  since: Schema.optional(Since),
  ...ReplayPage
})
export const InboxReplayBody = Schema.Struct({ since: Since, ...ReplayPage })

const Limit = Schema.optionalWith(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500)), {
  default: () => 100
})
const ListQuery = <S extends string>(state: Schema.Schema<S>) =>
  Schema.Struct({
    state,
    limit: Limit,
    /** Opaque: a `next_cursor` passed back unchanged (the store checks it). */
    cursor: Schema.optional(Schema.String),
    /** Last updated at or after it (a dead letter: when it was dead-lettered). */
    since: Schema.optional(Since),
    subscriber_id: Schema.optional(Schema.String)
  })
export const InboxList = ListQuery(Inbox.InboxState)
export const DeliveryList = ListQuery(Outbox.DeliveryState)
export const DeadInboxQuery = Schema.Struct({ limit: Limit })
export const DeadDeliveriesQuery = Schema.Struct({
  limit: Limit,
  subscriber_id: Schema.optional(Schema.String),
  cursor: Schema.optional(Schema.String)
})

// ---------------------------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------------------------

export class SubscribersGroup extends HttpApiGroup.make("subscribers")
  .add(
    HttpApiEndpoint.get("list", "/admin/subscribers")
      .addSuccess(Items(Subscriber))
      .annotate(OpenApi.Summary, "All subscribers")
  )
  .add(
    HttpApiEndpoint.post("create", "/admin/subscribers")
      .setPayload(NewSubscriberBody)
      .addSuccess(SubscriberWithSecret, { status: 201 })
      .annotate(
        OpenApi.Description,
        "The URL must be https:// with a public address (unless RELAY_ALLOW_PRIVATE_SUBSCRIBERS) and carry no credentials, control characters or whitespace; the parsed URL is stored. Without `secret` one is generated; the answer is the only time it is shown."
      )
  )
  .add(HttpApiEndpoint.get("get", "/admin/subscribers/:id").setPath(Id).addSuccess(Subscriber))
  .add(
    HttpApiEndpoint.post("disable", "/admin/subscribers/:id/disable")
      .setPath(Id)
      .setPayload(ReasonBody)
      .addSuccess(Subscriber)
  )
  .add(
    HttpApiEndpoint.post("enable", "/admin/subscribers/:id/enable")
      .setPath(Id)
      .addSuccess(Subscriber)
      .annotate(OpenApi.Description, "The URL is checked again (it may point somewhere it must not now).")
  )
  .add(
    HttpApiEndpoint.post("rotateSecret", "/admin/subscribers/:id/rotate-secret")
      .setPath(Id)
      .setPayload(RotateBody)
      .addSuccess(SubscriberWithSecret)
      .annotate(
        OpenApi.Description,
        "An empty body generates a secret; the secrets in use keep signing for `overlap_seconds` (default RELAY_SECRET_ROTATION_OVERLAP)."
      )
  )
  .addError(AdminNotFoundWire)
  .addError(AdminConflictWire)
  .addError(AdminRejectedWire)
  .addError(AdminInternalWire)
  .middleware(AdminAuthorization) {}

export class InboxGroup extends HttpApiGroup.make("inbox")
  .add(HttpApiEndpoint.get("list", "/admin/inbox").setUrlParams(InboxList).addSuccess(InboxPage))
  .add(
    HttpApiEndpoint.post("replayDead", "/admin/inbox/dead/replay")
      .setPayload(InboxReplayBody)
      .addSuccess(ReplayAnswer)
      .annotate(OpenApi.Description, "One page of dead letters from `since` on, back to pending.")
  )
  .add(HttpApiEndpoint.get("dead", "/admin/inbox/dead").setUrlParams(DeadInboxQuery).addSuccess(Items(InboxEvent)))
  .add(HttpApiEndpoint.get("get", "/admin/inbox/:id").setPath(Id).addSuccess(InboxEvent))
  .add(
    HttpApiEndpoint.post("replay", "/admin/inbox/:id/replay")
      .setPath(Id)
      .setPayload(ReplayBody)
      .addSuccess(ReplayedInboxEvent)
      .annotate(
        OpenApi.Description,
        "A dead inbound event back to pending; a missing or malformed body means `reset_lines: false`."
      )
  )
  .addError(AdminNotFoundWire)
  .addError(AdminConflictWire)
  .addError(AdminRejectedWire)
  .addError(AdminInternalWire)
  .middleware(AdminAuthorization) {}

export class DeliveriesGroup extends HttpApiGroup.make("deliveries")
  .add(HttpApiEndpoint.get("list", "/admin/deliveries").setUrlParams(DeliveryList).addSuccess(DeliveryPage))
  .add(HttpApiEndpoint.get("dead", "/admin/deliveries/dead").setUrlParams(DeadDeliveriesQuery).addSuccess(DeliveryPage))
  .add(
    HttpApiEndpoint.post("replayDead", "/admin/deliveries/dead/replay")
      .setPayload(BulkReplayBody)
      .addSuccess(ReplayAnswer)
      .annotate(
        OpenApi.Description,
        "One page of dead deliveries back to pending; an empty body means all, page by page."
      )
  )
  .add(HttpApiEndpoint.get("get", "/admin/deliveries/:id").setPath(Id).addSuccess(Delivery))
  .add(HttpApiEndpoint.post("replay", "/admin/deliveries/:id/replay").setPath(Id).addSuccess(Delivery))
  .addError(AdminNotFoundWire)
  .addError(AdminConflictWire)
  .addError(AdminRejectedWire)
  .addError(AdminInternalWire)
  .middleware(AdminAuthorization) {}

export class OrdersGroup extends HttpApiGroup.make("orders")
  .add(
    HttpApiEndpoint.get("events", "/admin/orders/:id/events")
      .setPath(Id)
      .addSuccess(Items(OrderEvent))
      .annotate(OpenApi.Description, "The order's outbound events and their per-order sequence.")
  )
  .addError(AdminNotFoundWire)
  .addError(AdminConflictWire)
  .addError(AdminRejectedWire)
  .addError(AdminInternalWire)
  .middleware(AdminAuthorization) {}

export class AdminApi extends HttpApi.make("RelayAdmin")
  .add(SubscribersGroup)
  .add(InboxGroup)
  .add(DeliveriesGroup)
  .add(OrdersGroup)
  .addError(AdminBadRequestWire)
  .annotate(OpenApi.Title, "HL Connect webhook relay — admin API")
  .annotate(
    OpenApi.Description,
    "Subscribers, the inbound inbox and outbound deliveries: listings, dead letters and replays. Every endpoint takes `Authorization: Bearer $RELAY_ADMIN_TOKEN`; inbound bodies are never returned."
  ) {}
