/**
 * Delivers outbox events to subscribers, signed with Standard Webhooks. 2xx = delivered;
 * 410 = the subscriber is disabled (with the reason) and the delivery dead-lettered; 429/503
 * wait for `Retry-After`; anything else (3xx included: redirects are never followed, timeouts,
 * connection errors) retries on the schedule, then dead-letters.
 */
import { type Lease, Outbox, Subscribers } from "@hlconnect/store"
import { Clock, Duration, Effect, Either, Metric, Redacted, type Scope } from "effect"
import { randomUUID } from "node:crypto"
import type { Doorbell } from "./Doorbell.js"
import type { RelayConfig } from "./RelayConfig.js"
import * as RelayMetrics from "./RelayMetrics.js"
import { decodeSecret, signedHeaders } from "./Signature.js"

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

/** Seconds or an HTTP date; `undefined` when absent or unreadable. */
export const parseRetryAfter = (value: string | null, now: number): number | undefined => {
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, maxRetryAfterMs)
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.min(Math.max(date - now, 0), maxRetryAfterMs)
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
  | { readonly _tag: "Response"; readonly status: number; readonly retryAfter: string | null; readonly location: string | null }
  | { readonly _tag: "Failed"; readonly error: string }

const post = (url: string, headers: Record<string, string>, body: string, timeout: Duration.Duration): Effect.Effect<Attempt> =>
  Effect.promise(async (): Promise<Attempt> => {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(Duration.toMillis(timeout))
      })
      // The body is not used; cancel it so the connection is freed.
      await response.body?.cancel().catch(() => undefined)
      return { _tag: "Response", status: response.status, retryAfter: response.headers.get("retry-after"), location: response.headers.get("location") }
    } catch (error) {
      const name = error instanceof Error ? error.name : ""
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : ""
      return {
        _tag: "Failed",
        error: name === "TimeoutError" || name === "AbortError" ? `no answer within ${Duration.format(timeout)}` : `request failed${cause || `: ${String(error)}`}`
      }
    }
  })

export const make = (config: RelayConfig, options: { readonly bell: Doorbell; readonly owner?: string }) =>
  Effect.gen(function* () {
    const outbox = yield* Outbox.Outbox
    const subscribers = yield* Subscribers.Subscribers
    const owner = options.owner ?? `relay-delivery-${randomUUID()}`
    const leaseMs = Duration.toMillis(config.deliveryTimeout) + 30_000

    /** The delay before the next attempt after `attempts` failed ones, or `undefined` when exhausted. */
    const nextDelay = (attempts: number): number | undefined => {
      const base = config.retrySchedule[attempts - 1]
      if (base === undefined) return undefined
      const jitter = 1 + (Math.random() * 2 - 1) * config.retryJitter
      return Math.round(Duration.toMillis(base) * jitter)
    }

    const retryOrDie = (lease: Lease, delivery: Outbox.Delivery, error: string, statusCode: number | null, minDelay = 0) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const delay = nextDelay(delivery.attempts)
        if (delay === undefined) {
          yield* outbox.deadLetter(lease, { statusCode, error: `gave up after ${delivery.attempts} attempts: ${error}` })
          yield* count("dead")
          yield* Effect.logWarning("delivery dead-lettered", { deliveryId: delivery.deliveryId, subscriberId: delivery.subscriberId, error })
          return
        }
        yield* outbox.scheduleRetry(lease, { statusCode, error, nextAttemptAt: now + Math.max(delay, minDelay) })
        yield* count("retry")
      })

    const deliver = (claimed: Outbox.ClaimedDelivery) =>
      Effect.gen(function* () {
        const { delivery, event, lease } = claimed
        const subscriber = yield* subscribers.get(delivery.subscriberId)
        if (!subscriber.enabled) {
          // Kept (dead-lettered, replayable) rather than dropped: re-enable, then replay.
          yield* outbox.deadLetter(lease, {
            error: `subscriber disabled: ${subscriber.disabledReason._tag === "Some" ? subscriber.disabledReason.value : "no reason given"}`
          })
          yield* count("disabled")
          return
        }
        const secret = yield* subscribers.signingSecret(delivery.subscriberId)
        const key = decodeSecret(secret)
        if (Either.isLeft(key)) {
          yield* outbox.deadLetter(lease, { error: `subscriber secret unusable: ${key.left.message}` })
          yield* count("dead")
          return
        }
        const body = envelope(event)
        const now = yield* Clock.currentTimeMillis
        const headers = {
          "content-type": "application/json",
          "user-agent": "hlconnect-webhook-relay/1",
          ...signedHeaders([key.right], event.eventId, Math.floor(now / 1000), body)
        }
        const attempt = yield* post(subscriber.url, headers, body, config.deliveryTimeout)
        if (attempt._tag === "Failed") return yield* retryOrDie(lease, delivery, attempt.error, null)
        const status = attempt.status
        if (status >= 200 && status < 300) {
          yield* outbox.markDelivered(lease, { statusCode: status })
          yield* count("delivered")
          yield* Metric.update(RelayMetrics.deliveryLag, Math.max(0, (yield* Clock.currentTimeMillis) - event.createdAt) / 1000)
          return
        }
        if (status === 410) {
          const reason = `answered 410 Gone to delivery ${delivery.deliveryId} at ${new Date(now).toISOString()}`
          yield* subscribers.disable(subscriber.subscriberId, reason)
          yield* outbox.deadLetter(lease, { statusCode: 410, error: `subscriber ${reason}; disabled` })
          yield* count("disabled")
          yield* Effect.logWarning("subscriber disabled after 410 Gone", { subscriberId: subscriber.subscriberId })
          return
        }
        if (status === 429 || status === 503) {
          const after = parseRetryAfter(attempt.retryAfter, now)
          return yield* retryOrDie(lease, delivery, `HTTP ${status}${after === undefined ? "" : ` (Retry-After ${attempt.retryAfter})`}`, status, after ?? 0)
        }
        if (status >= 300 && status < 400) {
          return yield* retryOrDie(lease, delivery, `HTTP ${status}: redirects are not followed (Location: ${attempt.location ?? "none"})`, status)
        }
        return yield* retryOrDie(lease, delivery, `HTTP ${status}`, status)
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.logError("delivery failed; its lease will expire and it will be retried", { deliveryId: claimed.delivery.deliveryId }, cause)
        )
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
