/**
 * The admin API, behind `Authorization: Bearer $RELAY_ADMIN_TOKEN` (read by `BearerAuth`, the apps' one rule):
 *
 * - `GET  /admin/subscribers`, `POST /admin/subscribers` `{url, events?, secret?}` (secret returned once),
 *   `GET /admin/subscribers/:id`, `POST /admin/subscribers/:id/disable` `{reason}`, `POST …/enable`,
 *   `POST …/rotate-secret` `{secret?, overlap_seconds?}` (new secret returned once; the ones in use keep signing
 *   for the overlap, default `RELAY_SECRET_ROTATION_OVERLAP`). A subscriber's JSON shows its active secrets as
 *   hints with their expiry, and its failing streak (`failing_since`, `last_failure_at`, `disables_at`, `failure_warning`).
 *   A new subscriber's URL must be https:// with a public address unless `RELAY_ALLOW_PRIVATE_SUBSCRIBERS`, and never carry
 *   credentials, control characters or whitespace (422 naming the problem); the parsed `URL.href` is stored.
 * - `GET  /admin/inbox/dead?limit=`, `GET /admin/inbox/:id`, `POST /admin/inbox/:id/replay` `{reset_lines?}`
 *   (`reset_lines: true` first moves the event's `needs_attention` lines back to `paid` /
 *   `cancel_requested`, so the workflow tries them again once the cause is fixed)
 * - `GET  /admin/deliveries/dead?subscriber_id=&limit=&cursor=`, `GET /admin/deliveries/:id`,
 *   `POST /admin/deliveries/:id/replay`
 * - `GET  /admin/inbox?state=pending|processed|dead&limit=&cursor=&since=`, `GET /admin/deliveries?state=pending|delivered|dead&subscriber_id=&limit=&cursor=&since=`
 *   (oldest first; `next_cursor` is null on the last page; `since`: last updated at or after it, for a dead letter when it was dead-lettered)
 * - `POST /admin/inbox/dead/replay` `{since, limit?, cursor?}`, `POST /admin/deliveries/dead/replay`
 *   `{since?, subscriber_id?, limit?, cursor?}`: one page of dead letters from `since` (ISO 8601) on back to pending,
 *   at most `limit` (default 100, at most 1000); answers `{replayed, skipped, next_cursor}` (`null`: nothing after it)
 * - `GET  /admin/orders/:order/events` (the events and their per-order sequence)
 *
 * Inbound bodies are never returned: they hold validation tokens (credentials).
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { RequestError } from "@effect/platform/HttpServerError"
import {
  type IllegalTransition,
  Inbox,
  type InvalidInput,
  type LeaseLost,
  type NotFound,
  OrderLines,
  Outbox,
  SecretBox,
  type StaleVersion,
  type StorageError,
  Subscribers
} from "@hlconnect/store"
import { BearerAuth } from "@hlconnect/service"
import { Duration, Effect, Option, type ParseResult, Redacted, Schema } from "effect"
import { parse } from "./CommerceEvents.js"
import { generateSecret } from "./Delivery.js"
import type { Doorbell } from "./Doorbell.js"
import type { RelayConfig } from "./RelayConfig.js"
import { decodeSecret, type InvalidSecret } from "./Signature.js"
import * as SubscriberHealth from "./SubscriberHealth.js"
import type * as SubscriberUrl from "./SubscriberUrl.js"

const json = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status, headers: { "cache-control": "no-store" } })
const problem = (status: number, error: string, message: string) => json({ error, message }, status)

const iso = (ms: number) => new Date(ms).toISOString()
const opt = <A, B>(o: Option.Option<A>, f: (a: A) => B): B | null => (Option.isSome(o) ? f(o.value) : null)

const secretJson = (s: Subscribers.SubscriberSecret) => ({
  id: s.secretId,
  hint: s.secretHint,
  created_at: iso(s.createdAt),
  expires_at: opt(s.expiresAt, iso)
})

/** A URL stored before credentials in URLs were refused is shown with its password masked. */
const shownUrl = (stored: string) => {
  if (!URL.canParse(stored)) return stored
  const url = new URL(stored)
  if (url.password === "") return stored
  url.password = "redacted"
  return url.href
}

/** Never a secret: its hint, and each active one's hint and expiry (`null`: the newest, no expiry). */
const subscriberJson = (config: RelayConfig, s: Subscribers.Subscriber, secrets: ReadonlyArray<Subscribers.SubscriberSecret>) => {
  const health = SubscriberHealth.status(config, s)
  return {
    id: s.subscriberId,
    url: shownUrl(s.url),
    secret_hint: s.secretHint,
    secrets: secrets.map(secretJson),
    events: s.eventFilter,
    enabled: s.enabled,
    disabled_reason: opt(s.disabledReason, (r) => r),
    disabled_at: opt(s.disabledAt, iso),
    created_at: iso(s.createdAt),
    failing_since: opt(health.failingSince, iso),
    last_failure_at: opt(health.lastFailureAt, iso),
    disables_at: opt(health.disablesAt, iso),
    failure_warning: health.warningLevel === 0 ? null : `failing for ${health.warningLevel} % of ${Duration.format(config.subscriberDisableAfter)}`
  }
}

const inboxJson = (e: Inbox.InboxEvent) => ({
  id: e.eventId,
  source: e.source,
  type: e.eventType,
  state: e.state,
  attempts: e.attempts,
  received_at: iso(e.receivedAt),
  next_attempt_at: iso(e.nextAttemptAt),
  last_error: opt(e.lastError, (x) => x),
  processed_at: opt(e.processedAt, iso)
})

const deliveryJson = (d: Outbox.Delivery) => ({
  id: d.deliveryId,
  event_id: d.eventId,
  subscriber_id: d.subscriberId,
  state: d.state,
  attempts: d.attempts,
  next_attempt_at: iso(d.nextAttemptAt),
  last_status_code: opt(d.lastStatusCode, (x) => x),
  last_error: opt(d.lastError, (x) => x),
  delivered_at: opt(d.deliveredAt, iso),
  dead_at: opt(d.deadAt, iso)
})

const NewSubscriberBody = Schema.Struct({
  url: Schema.String,
  events: Schema.optionalWith(Schema.Array(Schema.String), { default: () => ["*"] }),
  secret: Schema.optional(Schema.String)
})
const ReasonBody = Schema.Struct({ reason: Schema.String })
const RotateBody = Schema.Struct({
  secret: Schema.optional(Schema.String),
  /** How long the secrets in use keep signing next to the new one; default RELAY_SECRET_ROTATION_OVERLAP, 0 revokes them now. */
  overlap_seconds: Schema.optional(Schema.Int.pipe(Schema.between(0, Duration.toSeconds(Duration.days(30)))))
})
const ReplayBody = Schema.Struct({ reset_lines: Schema.optionalWith(Schema.Boolean, { default: () => false }) })
const Since = Schema.DateFromString.pipe(Schema.validDate())
/** A bulk replay is one bounded page: at most `limit` items from `cursor` (a `next_cursor` it answered) on. */
const ReplayPage = {
  limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1000)), { default: () => 100 }),
  cursor: Schema.optional(Schema.String)
}
const BulkReplayBody = Schema.Struct({ subscriber_id: Schema.optional(Schema.String), since: Schema.optional(Since), ...ReplayPage })
const InboxReplayBody = Schema.Struct({ since: Since, ...ReplayPage })

/** A JSON body where an empty one means `{}`; a malformed one is a 400, never the default. */
const optionalJsonBody = <A, I>(schema: Schema.Schema<A, I>) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (r) => r.text).pipe(
    Effect.flatMap((text) => Schema.decodeUnknown(Schema.parseJson(schema))(text.trim() === "" ? "{}" : text))
  )

const ListQuery = <S extends string>(...states: ReadonlyArray<S>) =>
  Schema.Struct({
    state: Schema.Literal(...states),
    limit: Schema.optionalWith(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500)), { default: () => 100 }),
    /** Opaque: a `next_cursor` passed back unchanged (the store checks it). */
    cursor: Schema.optional(Schema.String),
    since: Schema.optional(Since),
    subscriber_id: Schema.optional(Schema.String)
  })
const InboxList = ListQuery("pending", "processed", "dead")
const DeliveryList = ListQuery("pending", "delivered", "dead")
const Limit = Schema.optionalWith(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500)), { default: () => 100 })

/** Everything an admin handler may fail with; each maps to a status below. */
type AdminError =
  | NotFound
  | InvalidInput
  | IllegalTransition
  | StaleVersion
  | LeaseLost
  | StorageError
  | ParseResult.ParseError
  | RequestError
  | InvalidSecret
  | SubscriberUrl.SubscriberUrlRejected

/** Errors mapped to statuses; a storage failure is a 500 (logged, not echoed). */
const handleErrors = <R>(self: Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>) =>
  Effect.catchTags(self, {
    NotFound: (e) => Effect.succeed(problem(404, "not_found", e.message)),
    // A page cursor not handed out by this API is a bad request, as any other malformed query parameter.
    InvalidInput: (e) =>
      Effect.succeed(e.field === "cursor" ? problem(400, "bad_request", `cursor: ${e.message}`) : problem(422, "invalid_input", `${e.field}: ${e.message}`)),
    IllegalTransition: (e) => Effect.succeed(problem(409, "conflict", e.message)),
    StaleVersion: (e) => Effect.succeed(problem(409, "conflict", e.message)),
    LeaseLost: (e) => Effect.succeed(problem(409, "conflict", e.message)),
    ParseError: (e) => Effect.succeed(problem(400, "bad_request", e.message)),
    RequestError: (e) => Effect.succeed(problem(400, "bad_request", e.message)),
    InvalidSecret: (e) => Effect.succeed(problem(422, "invalid_secret", e.message)),
    SubscriberUrlRejected: (e) => Effect.succeed(problem(422, e.code, e.message)),
    StorageError: (e) => Effect.zipRight(Effect.logError("admin request failed", e), Effect.succeed(problem(500, "internal", "see the relay's logs")))
  })

const secretFrom = (given: string | undefined) =>
  Effect.gen(function* () {
    const secret = given === undefined ? generateSecret() : Redacted.make(given)
    const decoded = decodeSecret(secret)
    if (decoded._tag === "Left") return yield* decoded.left
    return secret
  })

/** The store's largest page; a replay page of more items reads several. */
const storePage = 500

/** `true` once replayed; `false` when the item left the dead letters meanwhile (replayed or purged by someone else). */
const replayedOrMoved = (self: Effect.Effect<unknown, NotFound | IllegalTransition | InvalidInput | StorageError>) =>
  self.pipe(
    Effect.as(true),
    Effect.catchTags({ NotFound: () => Effect.succeed(false), IllegalTransition: () => Effect.succeed(false) })
  )

/**
 * Replays one page of a listing of dead letters: at most `limit` items from `cursor` on. The answer
 * says how many were replayed, how many had moved meanwhile, and where the next page starts
 * (`null`: nothing after this page), so an operator replays everything page by page, each request bounded.
 */
const replayPage = <A, E>(
  request: { readonly limit: number; readonly cursor?: string | undefined },
  page: (cursor: string | undefined, limit: number) => Effect.Effect<OrderLines.Page<A>, E>,
  replay: (item: A) => Effect.Effect<boolean, InvalidInput | StorageError>
) =>
  Effect.gen(function* () {
    let replayed = 0
    let skipped = 0
    let cursor = request.cursor
    do {
      const current = yield* page(cursor, Math.min(storePage, request.limit - replayed - skipped))
      for (const item of current.items) {
        if (yield* replay(item)) replayed++
        else skipped++
      }
      cursor = Option.getOrUndefined(current.nextCursor)
    } while (cursor !== undefined && replayed + skipped < request.limit)
    return { replayed, skipped, next_cursor: cursor ?? null }
  })

export const make = (
  config: RelayConfig,
  options: { readonly deliveries: Doorbell; readonly inbox: Doorbell; readonly guard: SubscriberUrl.Guard }
) =>
  Effect.gen(function* () {
    const subscribers = yield* Subscribers.Subscribers
    // Seals the secrets the admin API creates (the relay provides it from RELAY_SECRETS_KEY).
    const sealing = Effect.provideService(SecretBox.SecretBox, yield* SecretBox.SecretBox)
    const inbox = yield* Inbox.Inbox
    const outbox = yield* Outbox.Outbox
    const lines = yield* OrderLines.OrderLines

    const listInbox = (q: typeof InboxList.Type) =>
      Effect.map(
        inbox.listByState({
          state: q.state,
          limit: q.limit,
          ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
          ...(q.since === undefined ? {} : { since: q.since.getTime() })
        }),
        (page) => ({ items: page.items.map(inboxJson), next_cursor: Option.getOrNull(page.nextCursor) })
      )

    const listDeliveries = (q: typeof DeliveryList.Type) =>
      Effect.map(
        outbox.listDeliveries({
          state: q.state,
          limit: q.limit,
          ...(q.subscriber_id === undefined ? {} : { subscriberId: q.subscriber_id }),
          ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
          ...(q.since === undefined ? {} : { since: q.since.getTime() })
        }),
        (page) => ({ items: page.items.map(deliveryJson), next_cursor: Option.getOrNull(page.nextCursor) })
      )

    /** Subscribers as JSON with their secrets' hints (one query per 500 subscribers). */
    const subscribersJson = (all: ReadonlyArray<Subscribers.Subscriber>) =>
      Effect.gen(function* () {
        const hints = new Map<string, Array<Subscribers.SubscriberSecret>>()
        for (let i = 0; i < all.length; i += 500) {
          for (const hint of yield* subscribers.secretHints(all.slice(i, i + 500).map((s) => s.subscriberId))) {
            const list = hints.get(hint.subscriberId) ?? []
            list.push(hint)
            hints.set(hint.subscriberId, list)
          }
        }
        return all.map((s) => subscriberJson(config, s, hints.get(s.subscriberId) ?? []))
      })
    const subscriberResponse = (s: Subscribers.Subscriber, extra: Record<string, unknown> = {}, status = 200) =>
      Effect.map(subscribersJson([s]), ([one]) => json({ ...one, ...extra }, status))

    /** Puts the event's lines that need attention back where the workflow will act on them. */
    const resetLines = (eventId: string) =>
      Effect.gen(function* () {
        const event = yield* inbox.get(eventId)
        if (Option.isNone(event)) return 0
        const decoded = parse(event.value.body)
        if (decoded._tag === "Left") return 0
        const e = decoded.right
        const orderNumber = e.data.order_number
        const ids = e.type === "order.paid" ? e.data.lines.map((l) => l.order_line_id) : (e.data.order_line_ids ?? [])
        const to = e.type === "order.paid" ? "paid" : "cancel_requested"
        let reset = 0
        for (const orderLineId of ids) {
          const line = yield* lines.get({ orderNumber, orderLineId }).pipe(Effect.option)
          if (Option.isNone(line) || line.value.state !== "needs_attention") continue
          yield* lines.transition({ orderNumber, orderLineId, expectedVersion: line.value.version, to, lastError: null })
          reset++
        }
        return reset
      })

    const bearer = Option.map(config.adminToken, (t) => BearerAuth.make([t]))

    const guard = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>) =>
      Effect.gen(function* () {
        if (Option.isNone(bearer)) return problem(503, "admin_disabled", "the admin API is disabled: set RELAY_ADMIN_TOKEN")
        const request = yield* HttpServerRequest.HttpServerRequest
        if (!bearer.value.authorize(request.headers.authorization)) {
          return HttpServerResponse.unsafeJson(
            { error: "unauthorized", message: "Authorization: Bearer <RELAY_ADMIN_TOKEN> required" },
            { status: 401, headers: { "www-authenticate": "Bearer" } }
          )
        }
        return yield* handleErrors(handler)
      })

    const id = Effect.map(HttpRouter.params, (p) => p.id ?? "")

    const router = HttpRouter.empty.pipe(
      HttpRouter.get(
        "/admin/subscribers",
        guard(Effect.flatMap(subscribers.list(), (all) => Effect.map(subscribersJson(all), (items) => json({ items }))))
      ),
      HttpRouter.post(
        "/admin/subscribers",
        guard(
          Effect.gen(function* () {
            const body = yield* HttpServerRequest.schemaBodyJson(NewSubscriberBody)
            // HTTPS and a public address (unless RELAY_ALLOW_PRIVATE_SUBSCRIBERS); checked again before every delivery.
            const target = yield* options.guard.check(body.url)
            const secret = yield* secretFrom(body.secret)
            // Stored exactly as it is contacted: the parsed, normalised URL.
            const created = yield* subscribers
              .create({ url: target.url.href, signingSecret: secret, eventFilter: body.events })
              .pipe(sealing)
            // The only time the secret is shown.
            return yield* subscriberResponse(created, { secret: Redacted.value(secret) }, 201)
          })
        )
      ),
      HttpRouter.get("/admin/subscribers/:id", guard(Effect.flatMap(id, (s) => Effect.flatMap(subscribers.get(s), (x) => subscriberResponse(x))))),
      HttpRouter.post(
        "/admin/subscribers/:id/disable",
        guard(
          Effect.gen(function* () {
            const body = yield* HttpServerRequest.schemaBodyJson(ReasonBody)
            return yield* subscriberResponse(yield* subscribers.disable(yield* id, body.reason))
          })
        )
      ),
      HttpRouter.post(
        "/admin/subscribers/:id/enable",
        guard(
          Effect.gen(function* () {
            const subscriberId = yield* id
            // A subscriber that was off may point somewhere it must not now (DNS moved, rules tightened): checked before it is on again.
            yield* options.guard.check((yield* subscribers.get(subscriberId)).url)
            return yield* subscriberResponse(yield* subscribers.enable(subscriberId))
          })
        )
      ),
      HttpRouter.post(
        "/admin/subscribers/:id/rotate-secret",
        guard(
          Effect.gen(function* () {
            // An empty body generates a secret with the default overlap; a malformed one is a 400.
            const body = yield* optionalJsonBody(RotateBody)
            const secret = yield* secretFrom(body.secret)
            const overlap = body.overlap_seconds === undefined ? config.secretRotationOverlap : Duration.seconds(body.overlap_seconds)
            const updated = yield* subscribers.rotateSecret(yield* id, secret, { overlapMs: Duration.toMillis(overlap) }).pipe(sealing)
            yield* Effect.logInfo("subscriber secret rotated", { subscriberId: updated.subscriberId, overlap: Duration.format(overlap) })
            // The only time the new secret is shown; the older ones are listed as hints with their expiry.
            return yield* subscriberResponse(updated, { secret: Redacted.value(secret) })
          })
        )
      ),
      HttpRouter.get(
        "/admin/inbox",
        guard(Effect.flatMap(HttpServerRequest.schemaSearchParams(InboxList), (q) => Effect.map(listInbox(q), (page) => json(page))))
      ),
      HttpRouter.post(
        "/admin/inbox/dead/replay",
        guard(
          Effect.gen(function* () {
            const body = yield* HttpServerRequest.schemaBodyJson(InboxReplayBody)
            const answer = yield* replayPage(
              body,
              (cursor, limit) => inbox.listByState({ state: "dead", since: body.since.getTime(), limit, ...(cursor === undefined ? {} : { cursor }) }),
              (event) => replayedOrMoved(inbox.replay(event.eventId))
            )
            yield* options.inbox.ring
            return json(answer)
          })
        )
      ),
      HttpRouter.get(
        "/admin/deliveries",
        guard(Effect.flatMap(HttpServerRequest.schemaSearchParams(DeliveryList), (q) => Effect.map(listDeliveries(q), (page) => json(page))))
      ),
      HttpRouter.get(
        "/admin/inbox/dead",
        guard(
          Effect.gen(function* () {
            const q = yield* HttpServerRequest.schemaSearchParams(Schema.Struct({ limit: Limit }))
            return json({ items: (yield* inbox.listDead(q.limit)).map(inboxJson) })
          })
        )
      ),
      HttpRouter.get(
        "/admin/inbox/:id",
        guard(
          Effect.gen(function* () {
            const event = yield* inbox.get(yield* id)
            return Option.match(event, {
              onNone: () => problem(404, "not_found", "no such inbox event"),
              onSome: (e) => json(inboxJson(e))
            })
          })
        )
      ),
      HttpRouter.post(
        "/admin/inbox/:id/replay",
        guard(
          Effect.gen(function* () {
            const eventId = yield* id
            const body = yield* HttpServerRequest.schemaBodyJson(ReplayBody).pipe(Effect.orElseSucceed(() => ({ reset_lines: false })))
            const current = yield* inbox.get(eventId)
            if (Option.isNone(current)) return problem(404, "not_found", `inbox event ${eventId} not found`)
            if (current.value.state !== "dead") return problem(409, "conflict", `inbox event ${eventId} is ${current.value.state}, not dead`)
            const reset = body.reset_lines ? yield* resetLines(eventId) : 0
            const replayed = yield* inbox.replay(eventId)
            yield* options.inbox.ring
            return json({ ...inboxJson(replayed), lines_reset: reset })
          })
        )
      ),
      HttpRouter.get(
        "/admin/deliveries/dead",
        guard(
          Effect.gen(function* () {
            const q = yield* HttpServerRequest.schemaSearchParams(
              Schema.Struct({ limit: Limit, subscriber_id: Schema.optional(Schema.String), cursor: Schema.optional(Schema.String) })
            )
            const page = yield* outbox.listDeadLettered({
              limit: q.limit,
              ...(q.subscriber_id === undefined ? {} : { subscriberId: q.subscriber_id }),
              ...(q.cursor === undefined ? {} : { cursor: q.cursor })
            })
            return json({ items: page.items.map(deliveryJson), next_cursor: Option.getOrNull(page.nextCursor) })
          })
        )
      ),
      HttpRouter.post(
        "/admin/deliveries/dead/replay",
        guard(
          Effect.gen(function* () {
            // An empty body means "all", one page at a time; a malformed one is a 400, never "all".
            const body = yield* optionalJsonBody(BulkReplayBody)
            const answer = yield* replayPage(
              body,
              (cursor, limit) =>
                outbox.listDeliveries({
                  state: "dead",
                  limit,
                  ...(body.subscriber_id === undefined ? {} : { subscriberId: body.subscriber_id }),
                  ...(body.since === undefined ? {} : { since: body.since.getTime() }),
                  ...(cursor === undefined ? {} : { cursor })
                }),
              (delivery) => replayedOrMoved(outbox.replay(delivery.deliveryId))
            )
            yield* options.deliveries.ring
            return json(answer)
          })
        )
      ),
      HttpRouter.get("/admin/deliveries/:id", guard(Effect.flatMap(id, (d) => Effect.map(outbox.getDelivery(d), (x) => json(deliveryJson(x)))))),
      HttpRouter.post(
        "/admin/deliveries/:id/replay",
        guard(
          Effect.gen(function* () {
            const replayed = yield* outbox.replay(yield* id)
            yield* options.deliveries.ring
            return json(deliveryJson(replayed))
          })
        )
      ),
      HttpRouter.get(
        "/admin/orders/:id/events",
        guard(
          Effect.gen(function* () {
            const events = yield* outbox.eventsForOrder(yield* id)
            return json({
              items: events.map((e) => ({ id: e.eventId, type: e.eventType, sequence: e.sequence, created_at: iso(e.createdAt), data: e.payload }))
            })
          })
        )
      )
    )
    return router
  })
