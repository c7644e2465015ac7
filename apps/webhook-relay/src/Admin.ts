/**
 * The admin API's implementation: `AdminApi` (the definition, with every path, body, answer and
 * error) served with `HttpApiBuilder` as an `HttpApp` the relay mounts under `/admin`, with its
 * OpenAPI document at `/admin/docs` (Swagger UI) and `/admin/openapi.json`.
 *
 * Behind `Authorization: Bearer $RELAY_ADMIN_TOKEN` (read by `BearerAuth`, the apps' one rule);
 * 503 while the token is unset. Answers carry `cache-control: no-store`; the 401 carries
 * `www-authenticate: Bearer`. A request body is read as JSON whatever its content type; malformed
 * JSON, a body, query parameter or cursor that does not decode is a 400 `bad_request` naming the
 * problem. Inbound bodies are never returned: they hold validation tokens (credentials).
 */
import {
  HttpApiBuilder,
  HttpApiError,
  HttpApiSwagger,
  HttpApp,
  HttpIncomingMessage,
  HttpServerResponse
} from "@effect/platform"
import type { RequestError } from "@effect/platform/HttpServerError"
import type { HttpServerRequest } from "@effect/platform/HttpServerRequest"
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
import { Cause, Duration, Effect, Layer, Option, type ParseResult, Redacted, Schema } from "effect"
import {
  AdminApi,
  AdminAuthorization,
  AdminBadRequest,
  AdminConflict,
  AdminDisabled,
  AdminInternal,
  AdminNotFound,
  AdminRejected,
  AdminUnauthorized,
  BulkReplayBody,
  type Delivery,
  type DeliveryList,
  type InboxEvent,
  type InboxList,
  InboxReplayBody,
  NewSubscriberBody,
  ReasonBody,
  ReplayBody,
  RotateBody,
  type SecretHint,
  type Subscriber
} from "./AdminApi.js"
import { parse } from "./CommerceEvents.js"
import { generateSecret } from "./Delivery.js"
import type { Doorbell } from "./Doorbell.js"
import type { RelayConfig } from "./RelayConfig.js"
import { decodeSecret, type InvalidSecret } from "./Signature.js"
import * as SubscriberHealth from "./SubscriberHealth.js"
import type * as SubscriberUrl from "./SubscriberUrl.js"

const iso = (ms: number) => new Date(ms).toISOString()
const opt = <A, B>(o: Option.Option<A>, f: (a: A) => B): B | null => (Option.isSome(o) ? f(o.value) : null)

const secretJson = (s: Subscribers.SubscriberSecret): typeof SecretHint.Type => ({
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
const subscriberJson = (
  config: RelayConfig,
  s: Subscribers.Subscriber,
  secrets: ReadonlyArray<Subscribers.SubscriberSecret>
): Subscriber => {
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
    failure_warning:
      health.warningLevel === 0
        ? null
        : `failing for ${health.warningLevel} % of ${Duration.format(config.subscriberDisableAfter)}`
  }
}

const inboxJson = (e: Inbox.InboxEvent): InboxEvent => ({
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

const deliveryJson = (d: Outbox.Delivery): Delivery => ({
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

/** Everything an admin handler may fail with; each becomes one of `AdminApi`'s errors below. */
type HandlerError =
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

/** The error table: a storage failure is a 500 (logged, not echoed). */
const toAdminError = <A, R>(self: Effect.Effect<A, HandlerError, R>) =>
  Effect.catchTags(self, {
    NotFound: (e) => Effect.fail(new AdminNotFound({ message: e.message })),
    // A page cursor not handed out by this API is a bad request, as any other malformed query parameter.
    InvalidInput: (e) =>
      Effect.fail(
        e.field === "cursor"
          ? new AdminBadRequest({ message: `cursor: ${e.message}` })
          : new AdminRejected({ code: "invalid_input", message: `${e.field}: ${e.message}` })
      ),
    IllegalTransition: (e) => Effect.fail(new AdminConflict({ message: e.message })),
    StaleVersion: (e) => Effect.fail(new AdminConflict({ message: e.message })),
    LeaseLost: (e) => Effect.fail(new AdminConflict({ message: e.message })),
    ParseError: (e) => Effect.fail(new AdminBadRequest({ message: e.message })),
    RequestError: (e) => Effect.fail(new AdminBadRequest({ message: e.message })),
    InvalidSecret: (e) => Effect.fail(new AdminRejected({ code: "invalid_secret", message: e.message })),
    SubscriberUrlRejected: (e) => Effect.fail(new AdminRejected({ code: e.code, message: e.message })),
    StorageError: (e) =>
      Effect.zipRight(
        Effect.logError("admin request failed", e),
        Effect.fail(new AdminInternal({ message: "see the relay's logs" }))
      )
  })

/** A JSON body whatever its content type (as the admin API always read it); malformed JSON is a 400. */
const jsonBody =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (request: HttpServerRequest) =>
    HttpIncomingMessage.schemaBodyJson(schema)(request)

/** A JSON body where an empty one means `{}`; a malformed one is a 400, never the default. */
const optionalJsonBody =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (request: HttpServerRequest) =>
    request.text.pipe(
      Effect.flatMap((text) => Schema.decodeUnknown(Schema.parseJson(schema))(text.trim() === "" ? "{}" : text))
    )

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

const noStore = HttpApp.appendPreResponseHandler((_request, response) =>
  Effect.succeed(HttpServerResponse.setHeader(response, "cache-control", "no-store"))
)
const challenge = HttpApp.appendPreResponseHandler((_request, response) =>
  Effect.succeed(HttpServerResponse.setHeader(response, "www-authenticate", "Bearer"))
)

/** The bearer check, or 503 while `RELAY_ADMIN_TOKEN` is unset (token or not). */
const authorizationLayer = (config: RelayConfig) => {
  const check = Option.map(config.adminToken, (token) => BearerAuth.make([token]))
  return Layer.succeed(
    AdminAuthorization,
    AdminAuthorization.of({
      // The header is read by the one bearer rule, not the value the platform sliced from it.
      bearer: () =>
        Option.match(check, {
          onNone: () =>
            Effect.zipRight(
              noStore,
              Effect.fail(new AdminDisabled({ message: "the admin API is disabled: set RELAY_ADMIN_TOKEN" }))
            ),
          onSome: (bearer) =>
            BearerAuth.authorizeRequest(
              bearer,
              () => new AdminUnauthorized({ message: "Authorization: Bearer <RELAY_ADMIN_TOKEN> required" })
            ).pipe(
              Effect.matchEffect({
                onFailure: (e) => Effect.zipRight(challenge, Effect.fail(e)),
                onSuccess: () => noStore
              })
            )
        })
    })
  )
}

/** A request that does not decode (path, query) is answered as every other bad request: `{ error: "bad_request", message }`. */
const decodeErrorsLayer = HttpApiBuilder.middleware(AdminApi, (app) =>
  Effect.catchAllCause(app, (cause) => {
    const failure = Cause.squash(cause)
    return failure instanceof HttpApiError.HttpApiDecodeError
      ? Effect.fail(new AdminBadRequest({ message: failure.message }))
      : Effect.failCause(cause)
  })
)

/** The admin API as an `HttpApp` for the relay to mount under `/admin`; its handlers live as long as `Scope`. */
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
    const subscriberAnswer = (s: Subscribers.Subscriber) =>
      Effect.map(subscribers.secretHints([s.subscriberId]), (hints) => subscriberJson(config, s, hints))

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
          yield* lines.transition({
            orderNumber,
            orderLineId,
            expectedVersion: line.value.version,
            to,
            lastError: null
          })
          reset++
        }
        return reset
      })

    const subscribersLive = HttpApiBuilder.group(AdminApi, "subscribers", (handlers) =>
      handlers
        .handle("list", () =>
          toAdminError(
            Effect.flatMap(subscribers.list(), (all) => Effect.map(subscribersJson(all), (items) => ({ items })))
          )
        )
        .handleRaw("create", ({ request }) =>
          toAdminError(
            Effect.gen(function* () {
              const body = yield* jsonBody(NewSubscriberBody)(request)
              // HTTPS and a public address (unless RELAY_ALLOW_PRIVATE_SUBSCRIBERS); checked again before every delivery.
              const target = yield* options.guard.check(body.url)
              const secret = yield* secretFrom(body.secret)
              // Stored exactly as it is contacted: the parsed, normalised URL.
              const created = yield* subscribers
                .create({ url: target.url.href, signingSecret: secret, eventFilter: body.events })
                .pipe(sealing)
              // The only time the secret is shown.
              return { ...(yield* subscriberAnswer(created)), secret: Redacted.value(secret) }
            })
          )
        )
        .handle("get", ({ path }) => toAdminError(Effect.flatMap(subscribers.get(path.id), subscriberAnswer)))
        .handleRaw("disable", ({ path, request }) =>
          toAdminError(
            Effect.gen(function* () {
              const body = yield* jsonBody(ReasonBody)(request)
              return yield* subscriberAnswer(yield* subscribers.disable(path.id, body.reason))
            })
          )
        )
        .handle("enable", ({ path }) =>
          toAdminError(
            Effect.gen(function* () {
              // A subscriber that was off may point somewhere it must not now (DNS moved, rules tightened): checked before it is on again.
              yield* options.guard.check((yield* subscribers.get(path.id)).url)
              return yield* subscriberAnswer(yield* subscribers.enable(path.id))
            })
          )
        )
        .handleRaw("rotateSecret", ({ path, request }) =>
          toAdminError(
            Effect.gen(function* () {
              // An empty body generates a secret with the default overlap; a malformed one is a 400.
              const body = yield* optionalJsonBody(RotateBody)(request)
              const secret = yield* secretFrom(body.secret)
              const overlap =
                body.overlap_seconds === undefined
                  ? config.secretRotationOverlap
                  : Duration.seconds(body.overlap_seconds)
              const updated = yield* subscribers
                .rotateSecret(path.id, secret, { overlapMs: Duration.toMillis(overlap) })
                .pipe(sealing)
              yield* Effect.logInfo("subscriber secret rotated", {
                subscriberId: updated.subscriberId,
                overlap: Duration.format(overlap)
              })
              // The only time the new secret is shown; the older ones are listed as hints with their expiry.
              return { ...(yield* subscriberAnswer(updated)), secret: Redacted.value(secret) }
            })
          )
        )
    )

    const inboxLive = HttpApiBuilder.group(AdminApi, "inbox", (handlers) =>
      handlers
        .handle("list", ({ urlParams }) => toAdminError(listInbox(urlParams)))
        .handleRaw("replayDead", ({ request }) =>
          toAdminError(
            Effect.gen(function* () {
              const body = yield* jsonBody(InboxReplayBody)(request)
              const answer = yield* replayPage(
                body,
                (cursor, limit) =>
                  inbox.listByState({
                    state: "dead",
                    since: body.since.getTime(),
                    limit,
                    ...(cursor === undefined ? {} : { cursor })
                  }),
                (event) => replayedOrMoved(inbox.replay(event.eventId))
              )
              yield* options.inbox.ring
              return answer
            })
          )
        )
        .handle("dead", ({ urlParams }) =>
          toAdminError(Effect.map(inbox.listDead(urlParams.limit), (events) => ({ items: events.map(inboxJson) })))
        )
        .handle("get", ({ path }) =>
          toAdminError(inbox.get(path.id)).pipe(
            Effect.flatMap(
              Option.match({
                onNone: () => Effect.fail(new AdminNotFound({ message: "no such inbox event" })),
                onSome: (e) => Effect.succeed(inboxJson(e))
              })
            )
          )
        )
        .handleRaw("replay", ({ path, request }) =>
          Effect.gen(function* () {
            const eventId = path.id
            // A missing or malformed body means no reset.
            const body = yield* jsonBody(ReplayBody)(request).pipe(Effect.orElseSucceed(() => ({ reset_lines: false })))
            const current = yield* toAdminError(inbox.get(eventId))
            if (Option.isNone(current)) return yield* new AdminNotFound({ message: `inbox event ${eventId} not found` })
            if (current.value.state !== "dead")
              return yield* new AdminConflict({ message: `inbox event ${eventId} is ${current.value.state}, not dead` })
            const reset = body.reset_lines ? yield* toAdminError(resetLines(eventId)) : 0
            const replayed = yield* toAdminError(inbox.replay(eventId))
            yield* options.inbox.ring
            return { ...inboxJson(replayed), lines_reset: reset }
          })
        )
    )

    const deliveriesLive = HttpApiBuilder.group(AdminApi, "deliveries", (handlers) =>
      handlers
        .handle("list", ({ urlParams }) => toAdminError(listDeliveries(urlParams)))
        .handle("dead", ({ urlParams }) =>
          toAdminError(
            Effect.map(
              outbox.listDeadLettered({
                limit: urlParams.limit,
                ...(urlParams.subscriber_id === undefined ? {} : { subscriberId: urlParams.subscriber_id }),
                ...(urlParams.cursor === undefined ? {} : { cursor: urlParams.cursor })
              }),
              (page) => ({ items: page.items.map(deliveryJson), next_cursor: Option.getOrNull(page.nextCursor) })
            )
          )
        )
        .handleRaw("replayDead", ({ request }) =>
          toAdminError(
            Effect.gen(function* () {
              // An empty body means "all", one page at a time; a malformed one is a 400, never "all".
              const body = yield* optionalJsonBody(BulkReplayBody)(request)
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
              return answer
            })
          )
        )
        .handle("get", ({ path }) => toAdminError(Effect.map(outbox.getDelivery(path.id), deliveryJson)))
        .handle("replay", ({ path }) =>
          toAdminError(
            Effect.gen(function* () {
              const replayed = yield* outbox.replay(path.id)
              yield* options.deliveries.ring
              return deliveryJson(replayed)
            })
          )
        )
    )

    const ordersLive = HttpApiBuilder.group(AdminApi, "orders", (handlers) =>
      handlers.handle("events", ({ path }) =>
        toAdminError(
          Effect.map(outbox.eventsForOrder(path.id), (events) => ({
            items: events.map((e) => ({
              id: e.eventId,
              type: e.eventType,
              sequence: e.sequence,
              created_at: iso(e.createdAt),
              data: e.payload
            }))
          }))
        )
      )
    )

    const api = HttpApiBuilder.api(AdminApi).pipe(
      Layer.provide([subscribersLive, inboxLive, deliveriesLive, ordersLive]),
      Layer.provide(authorizationLayer(config))
    )
    // As `HttpApiBuilder.serve` wires it, minus the server: the relay mounts the app next to its other routes.
    const served = Layer.mergeAll(
      decodeErrorsLayer,
      HttpApiSwagger.layer({ path: "/admin/docs" }),
      HttpApiBuilder.middlewareOpenApi({ path: "/admin/openapi.json" })
    ).pipe(
      Layer.provideMerge(api),
      Layer.provideMerge(HttpApiBuilder.Router.Live),
      Layer.provideMerge(HttpApiBuilder.Middleware.layer)
    )
    const context = yield* Layer.build(served)
    return yield* Effect.provide(HttpApiBuilder.httpApp, context)
  })
