/**
 * The relay's Prometheus series (served on `/metrics` by `@hlconnect/service`). Counters that
 * the ingest fast path bumps outside any fiber use `unsafeUpdate`: same registry, no fiber.
 */
import { Metric, MetricBoundaries, MetricLabel } from "effect"

export const inboundReceived = Metric.counter("relay_inbound_received_total", {
  description: "Requests to POST /webhooks/commerce.",
  incremental: true
})

export const inboundVerified = Metric.counter("relay_inbound_verified_total", {
  description: "Inbound requests whose Standard Webhooks signature and timestamp checked out.",
  incremental: true
})

/** reason: bad_signature, stale_past, stale_future, malformed, invalid, too_large, unreadable, storage_error. */
export const inboundRejected = Metric.counter("relay_inbound_rejected_total", {
  description: "Inbound requests answered 4xx/5xx, by reason.",
  incremental: true
})

/** result: accepted, duplicate, or the rejection reason. */
export const inboundRequests = Metric.counter("relay_inbound_requests_total", {
  description: "Inbound webhook requests, by result.",
  incremental: true
})

export const dispatched = Metric.counter("relay_dispatched_total", {
  description: "Inbox events fully handled (lines created, registered or cancelled), by event type.",
  incremental: true
})

export const delivered = Metric.counter("relay_delivered_total", {
  description: "Outbound events delivered to a subscriber (2xx).",
  incremental: true
})

export const deliveryRetries = Metric.counter("relay_delivery_retries_total", {
  description: "Outbound delivery attempts that failed and were scheduled again.",
  incremental: true
})

export const dispatchRetries = Metric.counter("relay_dispatch_retries_total", {
  description: "Inbox events whose handling failed transiently and was scheduled again.",
  incremental: true
})

/** kind: inbox or delivery. */
export const deadLettered = Metric.counter("relay_dead_lettered_total", {
  description: "Inbox events and deliveries given up on (replayable through the admin API), by kind.",
  incremental: true
})

/** kind: inbox, delivery or event (outbound). */
export const purged = Metric.counter("relay_purged_total", {
  description: "Inbox events, deliveries and outbound events deleted after RELAY_RETENTION, by kind.",
  incremental: true
})

const lagBoundaries = MetricBoundaries.fromIterable([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600
])

export const inboxLag = Metric.histogram(
  "relay_inbox_lag_seconds",
  lagBoundaries,
  "From an inbound event's receipt (inbox commit) to its handling completing."
)

export const deliveryLag = Metric.histogram(
  "relay_delivery_lag_seconds",
  lagBoundaries,
  "From an outbound event's creation to its delivery (2xx) to a subscriber."
)

const labelCache = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
/** One label set per (key, value), built once: the fast path bumps these per request. */
export const label = (key: string, value: string): ReadonlyArray<MetricLabel.MetricLabel> => {
  const k = `${key}\u0000${value}`
  let cached = labelCache.get(k)
  if (cached === undefined) {
    cached = [MetricLabel.make(key, value)]
    labelCache.set(k, cached)
  }
  return cached
}

const none: ReadonlyArray<MetricLabel.MetricLabel> = []

/** Synchronous counter bumps for code outside a fiber. */
export const bump = {
  received: () => inboundReceived.unsafeUpdate(1, none),
  verified: () => inboundVerified.unsafeUpdate(1, none),
  result: (result: string) => {
    inboundRequests.unsafeUpdate(1, label("result", result))
    if (result !== "accepted" && result !== "duplicate") inboundRejected.unsafeUpdate(1, label("reason", result))
  }
} as const
