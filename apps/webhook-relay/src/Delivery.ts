/**
 * Delivers outbox events to subscribers, signed with Standard Webhooks: one `v1,…` signature
 * per active secret (during a rotation the old and the new one), so a receiver on either
 * verifies. 2xx = delivered; 410 = the subscriber is disabled (with the reason) and the delivery
 * dead-lettered; 429/503 wait for `Retry-After`; anything else (3xx included: redirects are never
 * followed, timeouts, connection errors, a URL the SSRF guard refuses) retries on the schedule,
 * then dead-letters. Every attempt's outcome feeds `SubscriberHealth` (warn, then disable).
 * The subscriber's host is resolved and checked before every attempt, and the request goes to
 * the checked addresses (no second lookup a rebinding DNS server could answer differently).
 */
import { parseRetryAfter, traceparentOf } from "@hlconnect/core"
import { type Lease, Outbox, SecretBox, Subscribers, TraceContext } from "@hlconnect/store"
import { Clock, Duration, Effect, Either, Metric, Option, Redacted, type Scope, Tracer } from "effect"
import { randomUUID } from "node:crypto"
import type { LookupAddress, LookupOptions } from "node:dns"
import { request as httpRequest } from "node:http"
import { request as httpsRequest } from "node:https"
import type { Doorbell } from "./Doorbell.js"
import type { RelayConfig } from "./RelayConfig.js"
import * as RelayMetrics from "./RelayMetrics.js"
import { decodeSecret, type SigningKey, signedHeaders } from "./Signature.js"
import { type SubscriberHealth, subscribersDisabled } from "./SubscriberHealth.js"
import type * as SubscriberUrl from "./SubscriberUrl.js"

export const deliveriesTotal = Metric.counter("relay_deliveries_total", {
  description: "Delivery attempts, by outcome (delivered, retry, dead, disabled).",
  incremental: true
})

const deadDelivery = Metric.increment(Metric.tagged(RelayMetrics.deadLettered, "kind", "delivery"))

const count = (outcome: string) =>
  Effect.zipRight(
    Metric.increment(Metric.tagged(deliveriesTotal, "outcome", outcome)),
    outcome === "retry"
      ? Metric.increment(RelayMetrics.deliveryRetries)
      : outcome === "dead" || outcome === "disabled"
        ? deadDelivery
        : outcome === "delivered"
          ? Metric.increment(RelayMetrics.delivered)
          : Effect.void
  )

/** The longest `Retry-After` honoured; beyond it the schedule applies. */
const maxRetryAfterMs = 24 * 3600 * 1000

/** Core's `Retry-After` rule (seconds or an HTTP date), capped; `undefined` when absent or unreadable. */
const retryAfterMillis = (value: string | null, now: number): number | undefined => {
  const after = parseRetryAfter(value ?? undefined, now)
  return after === undefined ? undefined : Math.min(after, maxRetryAfterMs)
}

/** Credentials with a 30-minute life never travel in an event: drop any URL field defensively. */
const stripUrls = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(stripUrls)
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => k !== "download_url" && k !== "view_url" && k !== "downloadUrl" && k !== "viewUrl")
        .map(([k, v]) => [k, stripUrls(v)])
    )
  }
  return value
}

/** The body a subscriber receives: the same bytes on every attempt. */
export const envelope = (event: Outbox.OutboundEvent): string =>
  JSON.stringify({
    type: event.eventType,
    timestamp: new Date(event.createdAt).toISOString(),
    order_number: event.orderNumber,
    sequence: event.sequence,
    data: withOrder(stripUrls(event.payload), event)
  })

const withOrder = (payload: unknown, event: Outbox.OutboundEvent) =>
  typeof payload === "object" && payload !== null && !Array.isArray(payload)
    ? { ...payload, order_number: event.orderNumber, sequence: event.sequence }
    : { payload, order_number: event.orderNumber, sequence: event.sequence }

type Attempt =
  | {
      readonly _tag: "Response"
      readonly status: number
      readonly retryAfter: string | null
      readonly location: string | null
    }
  | { readonly _tag: "Failed"; readonly error: string }

const header = (value: string | ReadonlyArray<string> | undefined): string | null =>
  value === undefined ? null : typeof value === "string" ? value : (value[0] ?? null)

/**
 * POSTs to the checked target. Host name resolution is pinned to the checked addresses (the URL's
 * host still goes into `Host` and TLS SNI / certificate checks). Redirects are never followed.
 */
const post = (
  target: SubscriberUrl.Target,
  headers: Record<string, string>,
  body: string,
  timeout: Duration.Duration
): Effect.Effect<Attempt> =>
  Effect.async<Attempt>((resume) => {
    const [first] = target.addresses
    // Node asks for every address when it tries them in turn (happy eyeballs), else for one.
    const pinned = (
      _hostname: string,
      options: LookupOptions,
      callback: (error: NodeJS.ErrnoException | null, address: string | Array<LookupAddress>, family?: number) => void
    ) =>
      options.all === true
        ? callback(
            null,
            target.addresses.map((a) => ({ ...a }))
          )
        : callback(null, first.address, first.family)
    const send = target.url.protocol === "https:" ? httpsRequest : httpRequest
    let settled = false
    const settle = (attempt: Attempt) => {
      if (settled) return
      settled = true
      resume(Effect.succeed(attempt))
    }
    const req = send(
      target.url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        lookup: pinned,
        signal: AbortSignal.timeout(Duration.toMillis(timeout))
      },
      (res) => {
        // The body is not used: drain it so the connection can be reused. The outcome is decided by the
        // status alone, so a body cut short (reset, timeout) changes nothing; without a listener it would crash.
        res.on("error", () => undefined)
        res.resume()
        settle({
          _tag: "Response",
          status: res.statusCode ?? 0,
          retryAfter: header(res.headers["retry-after"]),
          location: header(res.headers.location)
        })
      }
    )
    req.on("error", (error) => {
      settle({
        _tag: "Failed",
        error:
          error.name === "AbortError" || error.name === "TimeoutError"
            ? `no answer within ${Duration.format(timeout)}`
            : `request failed: ${error.message}`
      })
    })
    req.end(body)
    return Effect.sync(() => {
      settled = true
      req.destroy()
    })
  })

export const make = (
  config: RelayConfig,
  options: {
    readonly bell: Doorbell
    readonly guard: SubscriberUrl.Guard
    readonly health: SubscriberHealth
    readonly owner?: string
  }
) =>
  Effect.gen(function* () {
    const outbox = yield* Outbox.Outbox
    const subscribers = yield* Subscribers.Subscribers
    // Opens the subscribers' sealed signing secrets (the relay provides it from RELAY_SECRETS_KEY).
    const secretBox = yield* SecretBox.SecretBox
    const owner = options.owner ?? `relay-delivery-${randomUUID()}`
    const leaseMs = Duration.toMillis(config.deliveryTimeout) + 30_000

    /** The delay before the next attempt after `attempts` failed ones, or `undefined` when exhausted. */
    const nextDelay = (attempts: number): number | undefined => {
      const base = config.retrySchedule[attempts - 1]
      if (base === undefined) return undefined
      const jitter = 1 + (Math.random() * 2 - 1) * config.retryJitter
      return Math.round(Duration.toMillis(base) * jitter)
    }

    const retryOrDie = (
      lease: Lease,
      delivery: Outbox.Delivery,
      error: string,
      statusCode: number | null,
      minDelay = 0
    ) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const delay = nextDelay(delivery.attempts)
        if (delay === undefined) {
          yield* outbox.deadLetter(lease, {
            statusCode,
            error: `gave up after ${delivery.attempts} attempts: ${error}`
          })
          yield* count("dead")
          yield* Effect.logWarning("delivery dead-lettered", {
            deliveryId: delivery.deliveryId,
            subscriberId: delivery.subscriberId,
            error
          })
          return
        }
        yield* outbox.scheduleRetry(lease, { statusCode, error, nextAttemptAt: now + Math.max(delay, minDelay) })
        yield* count("retry")
      })

    /** Every active secret that decodes; one that does not is reported (never its value) and skipped. */
    const signingKeys = (subscriberId: string) =>
      Effect.gen(function* () {
        const secrets = yield* subscribers
          .signingSecrets(subscriberId)
          .pipe(Effect.provideService(SecretBox.SecretBox, secretBox))
        const keys: Array<SigningKey> = []
        for (const [i, secret] of secrets.entries()) {
          const key = decodeSecret(secret)
          if (Either.isRight(key)) keys.push(key.right)
          else
            yield* Effect.logWarning("subscriber secret unusable; signing without it", {
              subscriberId,
              secret: i + 1,
              problem: key.left.message
            })
        }
        return keys
      })

    /** Feeds the attempt's outcome to the failing-streak bookkeeping; a storage problem there is logged, the delivery stands. */
    const failed = (subscriberId: string) =>
      options.health
        .onFailure(subscriberId)
        .pipe(
          Effect.catchAll((error) =>
            Effect.logError("could not record the subscriber's failed attempt", { subscriberId }, error)
          )
        )

    const deliver = (claimed: Outbox.ClaimedDelivery) =>
      Effect.gen(function* () {
        const { delivery, event, lease } = claimed
        const subscriber = yield* subscribers.get(delivery.subscriberId)
        if (!subscriber.enabled) {
          // Kept (dead-lettered, replayable) rather than dropped: re-enable, then replay.
          yield* outbox.deadLetter(lease, { error: Outbox.subscriberDisabledError(subscriber.disabledReason) })
          yield* count("disabled")
          return
        }
        const keys = yield* signingKeys(delivery.subscriberId)
        if (keys.length === 0) {
          yield* outbox.deadLetter(lease, { error: "subscriber has no usable signing secret: rotate it, then replay" })
          yield* count("dead")
          return
        }
        const target = yield* Effect.either(options.guard.check(subscriber.url))
        if (Either.isLeft(target)) {
          yield* retryOrDie(lease, delivery, `not sent: ${target.left.message}`, null)
          return yield* failed(subscriber.subscriberId)
        }
        const body = envelope(event)
        const now = yield* Clock.currentTimeMillis
        const headers = {
          "content-type": "application/json",
          "user-agent": "hlconnect-webhook-relay/1",
          // The subscriber can join our trace: this delivery's span is its parent.
          ...Option.match(yield* Effect.serviceOption(Tracer.ParentSpan), {
            onNone: () => ({}),
            onSome: (span) => ({ traceparent: traceparentOf(span) })
          }),
          ...signedHeaders(keys, event.eventId, Math.floor(now / 1000), body)
        }
        const attempt = yield* post(target.right, headers, body, config.deliveryTimeout)
        if (attempt._tag === "Failed") {
          yield* retryOrDie(lease, delivery, attempt.error, null)
          return yield* failed(subscriber.subscriberId)
        }
        const status = attempt.status
        if (status >= 200 && status < 300) {
          yield* outbox.markDelivered(lease, { statusCode: status })
          yield* count("delivered")
          yield* Metric.update(
            RelayMetrics.deliveryLag,
            Math.max(0, (yield* Clock.currentTimeMillis) - event.createdAt) / 1000
          )
          yield* options.health
            .onSuccess(subscriber.subscriberId)
            .pipe(
              Effect.catchAll((error) =>
                Effect.logError(
                  "could not record the subscriber's success",
                  { subscriberId: subscriber.subscriberId },
                  error
                )
              )
            )
          return
        }
        if (status === 410) {
          const reason = `answered 410 Gone to delivery ${delivery.deliveryId} at ${new Date(now).toISOString()}`
          yield* subscribers.disable(subscriber.subscriberId, reason)
          yield* outbox.deadLetter(lease, { statusCode: 410, error: `subscriber ${reason}; disabled` })
          yield* count("disabled")
          yield* Metric.increment(Metric.tagged(subscribersDisabled, "reason", "gone"))
          yield* Effect.logWarning("subscriber disabled after 410 Gone", { subscriberId: subscriber.subscriberId })
          return
        }
        if (status === 429 || status === 503) {
          const after = retryAfterMillis(attempt.retryAfter, now)
          yield* retryOrDie(
            lease,
            delivery,
            `HTTP ${status}${after === undefined ? "" : ` (Retry-After ${attempt.retryAfter})`}`,
            status,
            after ?? 0
          )
        } else if (status >= 300 && status < 400) {
          yield* retryOrDie(
            lease,
            delivery,
            `HTTP ${status}: redirects are not followed (Location: ${attempt.location ?? "none"})`,
            status
          )
        } else {
          yield* retryOrDie(lease, delivery, `HTTP ${status}`, status)
        }
        return yield* failed(subscriber.subscriberId)
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.logError(
            "delivery failed; its lease will expire and it will be retried",
            { deliveryId: claimed.delivery.deliveryId },
            cause
          )
        ),
        // Each delivery (one per subscriber: a fan-out) is a child of the change that emitted the event.
        TraceContext.continueFrom("Relay.deliver", [claimed.event.traceContext], {
          "hlconnect.order_number": claimed.event.orderNumber,
          "hlconnect.event_type": claimed.event.eventType,
          "hlconnect.delivery_id": claimed.delivery.deliveryId
        })
      )

    const drainOnce = Effect.gen(function* () {
      const claimed = yield* outbox.claimDue({ owner, limit: Math.max(config.deliveryConcurrency * 2, 16), leaseMs })
      yield* Effect.forEach(claimed, deliver, { concurrency: config.deliveryConcurrency, discard: true })
      return claimed.length
    })

    const run: Effect.Effect<never, never, Scope.Scope> = drainOnce.pipe(
      Effect.catchAllCause((cause) => Effect.as(Effect.logError("delivery claim failed", cause), 0)),
      Effect.flatMap((n) => (n === 0 ? options.bell.wait(config.pollInterval) : Effect.void)),
      Effect.forever
    )

    return { run, drainOnce } as const
  })

/** `whsec_` + 32 random bytes, the format Standard Webhooks libraries expect. */
export const generateSecret = (): Redacted.Redacted<string> => {
  const bytes = new Uint8Array(32)
  crypto.getRandomValues(bytes)
  return Redacted.make(`whsec_${Buffer.from(bytes).toString("base64")}`)
}
