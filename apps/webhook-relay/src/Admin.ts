/**
 * The admin API, behind `Authorization: Bearer $RELAY_ADMIN_TOKEN`:
 *
 * - `GET  /admin/subscribers`, `POST /admin/subscribers` `{url, events?, secret?}` (secret returned once),
 *   `GET /admin/subscribers/:id`, `POST /admin/subscribers/:id/disable` `{reason}`, `POST …/enable`,
 *   `POST …/rotate-secret` `{secret?}` (new secret returned once)
 * - `GET  /admin/inbox/dead?limit=`, `GET /admin/inbox/:id`, `POST /admin/inbox/:id/replay` `{reset_lines?}`
 *   (`reset_lines: true` first moves the event's `needs_attention` lines back to `paid` /
 *   `cancel_requested`, so the workflow tries them again once the cause is fixed)
 * - `GET  /admin/deliveries/dead?subscriber_id=&limit=&cursor=`, `GET /admin/deliveries/:id`,
 *   `POST /admin/deliveries/:id/replay`, `POST /admin/deliveries/dead/replay` `{subscriber_id?}`
 * - `GET  /admin/inbox?state=pending|processed|dead&limit=&cursor=`, `GET /admin/deliveries?state=pending|delivered|dead&subscriber_id=&limit=&cursor=`
 *   (oldest first; `next_cursor` is null on the last page)
 * - `POST /admin/inbox/dead/replay` `{since}`, `POST /admin/deliveries/dead/replay` `{since?, subscriber_id?}`: every
 *   dead letter from `since` (ISO 8601) on, back to pending
 * - `GET  /admin/orders/:order/events` (the events and their per-order sequence)
 *
 * Inbound bodies are never returned: they hold validation tokens (credentials).
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql/SqlClient"
import { Inbox, OrderLines, Outbox, Subscribers } from "@hlconnect/store"
import { parse } from "./CommerceEvents.js"
import { Effect, Option, Redacted, Schema } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { generateSecret } from "./Delivery.js"
import type { Doorbell } from "./Doorbell.js"
import type { RelayConfig } from "./RelayConfig.js"
import { decodeSecret } from "./Signature.js"

const json = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status, headers: { "cache-control": "no-store" } })
const problem = (status: number, error: string, message: string) => json({ error, message }, status)

const iso = (ms: number) => new Date(ms).toISOString()
const opt = <A, B>(o: Option.Option<A>, f: (a: A) => B): B | null => (Option.isSome(o) ? f(o.value) : null)

const subscriberJson = (s: Subscribers.Subscriber) => ({
  id: s.subscriberId,
  url: s.url,
  secret_hint: s.secretHint,
  events: s.eventFilter,
  enabled: s.enabled,
  disabled_reason: opt(s.disabledReason, (r) => r),
  disabled_at: opt(s.disabledAt, iso),
  created_at: iso(s.createdAt)
})

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

const digest = (s: string) => createHash("sha256").update(s).digest()

const NewSubscriberBody = Schema.Struct({
  url: Schema.String,
  events: Schema.optionalWith(Schema.Array(Schema.String), { default: () => ["*"] }),
  secret: Schema.optional(Schema.String)
})
const ReasonBody = Schema.Struct({ reason: Schema.String })
const RotateBody = Schema.Struct({ secret: Schema.optional(Schema.String) })
const ReplayBody = Schema.Struct({ reset_lines: Schema.optionalWith(Schema.Boolean, { default: () => false }) })
const Since = Schema.DateFromString.pipe(Schema.validDate())
const BulkReplayBody = Schema.Struct({ subscriber_id: Schema.optional(Schema.String), since: Schema.optional(Since) })
const InboxReplayBody = Schema.Struct({ since: Since })

/** Opaque page cursor: the sort key (millis, id) of the last item, base64url. */
const Cursor = Schema.compose(Schema.StringFromBase64Url, Schema.parseJson(Schema.Tuple(Schema.Int, Schema.String)))
const encodeCursor = Schema.encodeSync(Cursor)
const ListQuery = <S extends string>(...states: ReadonlyArray<S>) =>
  Schema.Struct({
    state: Schema.Literal(...states),
    limit: Schema.optionalWith(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500)), { default: () => 100 }),
    cursor: Schema.optional(Cursor),
    subscriber_id: Schema.optional(Schema.String)
  })
const InboxList = ListQuery("pending", "processed", "dead")
const DeliveryList = ListQuery("pending", "delivered", "dead")
const InboxRows = Schema.Array(Inbox.InboxEvent)
const DeliveryRows = Schema.Array(Outbox.Delivery)
const Limit = Schema.optionalWith(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500)), { default: () => 100 })

/** Errors of the store mapped to statuses; anything else is a 500 (logged, not echoed). */
const handleErrors = <R>(self: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, R>) =>
  self.pipe(
    Effect.catchAll((e: unknown) => {
      if (typeof e === "object" && e !== null && "_tag" in e) {
        switch (e._tag) {
          case "NotFound":
            return Effect.succeed(problem(404, "not_found", e instanceof Error ? e.message : "not found"))
          case "InvalidInput":
            return Effect.succeed(
              problem(422, "invalid_input", "field" in e && "message" in e ? `${String(e.field)}: ${String(e.message)}` : "invalid input")
            )
          case "IllegalTransition":
            return Effect.succeed(problem(409, "conflict", e instanceof Error ? e.message : "not in a replayable state"))
          case "ParseError":
          case "RequestError":
            return Effect.succeed(problem(400, "bad_request", e instanceof Error ? e.message : "unreadable request"))
          case "InvalidSecret":
            return Effect.succeed(problem(422, "invalid_secret", e instanceof Error ? e.message : "invalid secret"))
        }
      }
      return Effect.zipRight(Effect.logError("admin request failed", e), Effect.succeed(problem(500, "internal", "see the relay's logs")))
    })
  )

const secretFrom = (given: string | undefined) =>
  Effect.gen(function* () {
    const secret = given === undefined ? generateSecret() : Redacted.make(given)
    const decoded = decodeSecret(secret)
    if (decoded._tag === "Left") return yield* decoded.left
    return secret
  })

export const make = (config: RelayConfig, options: { readonly deliveries: Doorbell; readonly inbox: Doorbell }) =>
  Effect.gen(function* () {
    const subscribers = yield* Subscribers.Subscribers
    const inbox = yield* Inbox.Inbox
    const outbox = yield* Outbox.Outbox
    const lines = yield* OrderLines.OrderLines
    const sql = yield* SqlClient

    // The store lists dead letters only; listing by state pages on (time, id) directly.
    const listInbox = (q: typeof InboxList.Type) =>
      Effect.gen(function* () {
        const after = q.cursor === undefined ? sql`1 = 1` : sql`(received_at > ${q.cursor[0]} OR (received_at = ${q.cursor[0]} AND event_id > ${q.cursor[1]}))`
        const rows = yield* sql`SELECT * FROM webhook_inbox WHERE state = ${q.state} AND ${after}
          ORDER BY received_at, event_id LIMIT ${q.limit + 1}`.pipe(Effect.flatMap(Schema.decodeUnknown(InboxRows)))
        const items = rows.slice(0, q.limit)
        const last = items[items.length - 1]
        return {
          items: items.map(inboxJson),
          next_cursor: rows.length > q.limit && last !== undefined ? encodeCursor([last.receivedAt, last.eventId]) : null
        }
      })

    const listDeliveries = (q: typeof DeliveryList.Type) =>
      Effect.gen(function* () {
        const after = q.cursor === undefined ? sql`1 = 1` : sql`(created_at > ${q.cursor[0]} OR (created_at = ${q.cursor[0]} AND delivery_id > ${q.cursor[1]}))`
        const bySubscriber = q.subscriber_id === undefined ? sql`1 = 1` : sql`subscriber_id = ${q.subscriber_id}`
        const rows = yield* sql`SELECT * FROM deliveries WHERE state = ${q.state} AND ${bySubscriber} AND ${after}
          ORDER BY created_at, delivery_id LIMIT ${q.limit + 1}`.pipe(Effect.flatMap(Schema.decodeUnknown(DeliveryRows)))
        const items = rows.slice(0, q.limit)
        const last = items[items.length - 1]
        return {
          items: items.map(deliveryJson),
          next_cursor: rows.length > q.limit && last !== undefined ? encodeCursor([last.createdAt, last.deliveryId]) : null
        }
      })

    /** Replays ids in pages; one that changed state meanwhile (replayed or handled by someone else) is skipped. */
    const replayAll = <E, R>(ids: (after: string) => Effect.Effect<ReadonlyArray<string>, E, R>, replay: (id: string) => Effect.Effect<unknown, unknown>) =>
      Effect.gen(function* () {
        let replayed = 0
        let after = ""
        for (;;) {
          const page = yield* ids(after)
          for (const id of page) {
            const ok = yield* Effect.isSuccess(replay(id))
            if (ok) replayed++
          }
          const last = page[page.length - 1]
          if (last === undefined || page.length < 500) return replayed
          after = last
        }
      })

    // Inbox rows have no dead_at: updated_at is when the lease finished with "dead".
    const deadInboxSince = (since: number) => (after: string) =>
      Effect.map(
        sql<{ eventId: string }>`SELECT event_id FROM webhook_inbox WHERE state = 'dead' AND updated_at >= ${since} AND event_id > ${after}
          ORDER BY event_id LIMIT 500`,
        (rows) => rows.map((r) => r.eventId)
      )

    const deadDeliveriesSince = (since: number, subscriberId: string | undefined) => (after: string) =>
      Effect.map(
        sql<{ deliveryId: string }>`SELECT delivery_id FROM deliveries WHERE state = 'dead' AND COALESCE(dead_at, updated_at) >= ${since}
          AND ${subscriberId === undefined ? sql`1 = 1` : sql`subscriber_id = ${subscriberId}`} AND delivery_id > ${after}
          ORDER BY delivery_id LIMIT 500`,
        (rows) => rows.map((r) => r.deliveryId)
      )

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

    const expected = Option.map(config.adminToken, (t) => digest(Redacted.value(t)))

    const guard = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, R>) =>
      Effect.gen(function* () {
        if (Option.isNone(expected)) return problem(503, "admin_disabled", "the admin API is disabled: set RELAY_ADMIN_TOKEN")
        const request = yield* HttpServerRequest.HttpServerRequest
        const header = request.headers.authorization ?? ""
        const token = header.startsWith("Bearer ") ? header.slice("Bearer ".length) : ""
        // Compare digests: constant time regardless of the presented token's length.
        if (!timingSafeEqual(digest(token), expected.value)) {
          return HttpServerResponse.unsafeJson(
            { error: "unauthorized", message: "Authorization: Bearer <RELAY_ADMIN_TOKEN> required" },
            { status: 401, headers: { "www-authenticate": "Bearer" } }
          )
        }
        return yield* handleErrors(handler)
      })

    const id = Effect.map(HttpRouter.params, (p) => p.id ?? "")

    const router = HttpRouter.empty.pipe(
      HttpRouter.get("/admin/subscribers", guard(Effect.map(subscribers.list(), (all) => json({ items: all.map(subscriberJson) })))),
      HttpRouter.post(
        "/admin/subscribers",
        guard(
          Effect.gen(function* () {
            const body = yield* HttpServerRequest.schemaBodyJson(NewSubscriberBody)
            const secret = yield* secretFrom(body.secret)
            const created = yield* subscribers.create({ url: body.url, signingSecret: secret, eventFilter: body.events })
            // The only time the secret is shown.
            return json({ ...subscriberJson(created), secret: Redacted.value(secret) }, 201)
          })
        )
      ),
      HttpRouter.get("/admin/subscribers/:id", guard(Effect.flatMap(id, (s) => Effect.map(subscribers.get(s), (x) => json(subscriberJson(x)))))),
      HttpRouter.post(
        "/admin/subscribers/:id/disable",
        guard(
          Effect.gen(function* () {
            const body = yield* HttpServerRequest.schemaBodyJson(ReasonBody)
            return json(subscriberJson(yield* subscribers.disable(yield* id, body.reason)))
          })
        )
      ),
      HttpRouter.post("/admin/subscribers/:id/enable", guard(Effect.flatMap(id, (s) => Effect.map(subscribers.enable(s), (x) => json(subscriberJson(x)))))),
      HttpRouter.post(
        "/admin/subscribers/:id/rotate-secret",
        guard(
          Effect.gen(function* () {
            const body = yield* HttpServerRequest.schemaBodyJson(RotateBody).pipe(Effect.orElseSucceed(() => ({ secret: undefined })))
            const secret = yield* secretFrom(body.secret)
            const updated = yield* subscribers.rotateSecret(yield* id, secret)
            return json({ ...subscriberJson(updated), secret: Redacted.value(secret) })
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
            const replayed = yield* replayAll(deadInboxSince(body.since.getTime()), inbox.replay)
            yield* options.inbox.ring
            return json({ replayed })
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
            // An empty body means "all"; a malformed one is a 400, never "all".
            const text = yield* Effect.flatMap(HttpServerRequest.HttpServerRequest, (r) => r.text)
            const body = yield* Schema.decodeUnknown(Schema.parseJson(BulkReplayBody))(text.trim() === "" ? "{}" : text)
            const replayed = yield* replayAll(deadDeliveriesSince(body.since?.getTime() ?? 0, body.subscriber_id), outbox.replay)
            yield* options.deliveries.ring
            return json({ replayed })
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
