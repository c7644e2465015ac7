/**
 * Fault injection: what can go wrong between a client and HL Connect, on demand. Rates apply to
 * every API request (not to `/_sandbox/*`, docs or health of the sandbox itself); a script of
 * faults fires exactly once each, in order, for deterministic tests.
 */
import { Schema } from "effect"

export const FaultKind = Schema.Literal(
  /** 500 with an ErrorResponse body. */
  "error500",
  /** 500 with an empty body. */
  "empty500",
  /** 503 with Retry-After. */
  "unavailable503",
  /** 429 with Retry-After. */
  "rateLimit429",
  /** The connection is reset before the request is handled. */
  "resetBefore",
  /** The request is handled, then the connection is reset: the response is lost. */
  "resetAfter",
  /** An HTML 502 page, as a proxy in front of HL Connect would send (it never reached HL Connect). */
  "html502",
  /** A 502 with no body at all (a load balancer with nothing behind it). */
  "empty502",
  /** The request is handled, then a gateway answers an HTML 504: it gave up waiting while HL Connect went on. */
  "gateway504",
  /** An HTML 408 from a proxy: the request stalled on its way in (never reached HL Connect). */
  "timeout408",
  /** The request is handled, then a gateway answers 503 with Retry-After (it gave up while HL Connect went on). */
  "unavailable503After",
  /** An undocumented status (418) with a text body. */
  "teapot418",
  /** Any status and body, verbatim (`status`, `body`): to script answers the sandbox would not give. */
  "custom"
)
export type FaultKind = typeof FaultKind.Type

const Rate = Schema.Number.pipe(Schema.between(0, 1))
const Millis = Schema.Number.pipe(Schema.int(), Schema.between(0, 600_000))

export class FaultSettings extends Schema.Class<FaultSettings>("FaultSettings")({
  /** Probability of a 500 with an ErrorResponse body. */
  error_rate: Schema.optionalWith(Rate, { default: () => 0 }),
  /** Probability of a 429 with `Retry-After: retry_after_seconds`. */
  rate_limit_rate: Schema.optionalWith(Rate, { default: () => 0 }),
  retry_after_seconds: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 3600)), { default: () => 1 }),
  /** Probability of a connection reset before handling. */
  reset_rate: Schema.optionalWith(Rate, { default: () => 0 }),
  /** Probability of a connection reset after handling (the request took effect, the answer is lost). */
  reset_after_rate: Schema.optionalWith(Rate, { default: () => 0 }),
  /** Probability of an HTML 502 from a "proxy". */
  html_502_rate: Schema.optionalWith(Rate, { default: () => 0 }),
  /** Probability of an HTML 504 from a gateway after the request took effect. */
  gateway_504_rate: Schema.optionalWith(Rate, { default: () => 0 }),
  /** Added to every API request: fixed + uniform jitter. */
  latency_ms: Schema.optionalWith(Millis, { default: () => 0 }),
  latency_jitter_ms: Schema.optionalWith(Millis, { default: () => 0 }),
  /** Probability of a latency spike of `spike_ms` on top. */
  spike_rate: Schema.optionalWith(Rate, { default: () => 0 }),
  spike_ms: Schema.optionalWith(Millis, { default: () => 0 }),
  /** Restrict faults to these endpoints (by name, e.g. `registerPurchase`); empty = all. */
  endpoints: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
}) {}

export const NoFaults = FaultSettings.make({})

/** One scripted fault: the next `times` matching requests get `kind`. */
export class ScriptedFault extends Schema.Class<ScriptedFault>("ScriptedFault")({
  kind: FaultKind,
  /** An endpoint name, or omitted for any endpoint. */
  endpoint: Schema.optional(Schema.String),
  times: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10_000)), { default: () => 1 }),
  retry_after_seconds: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 3600)), { default: () => 1 }),
  /** Extra latency for this request (e.g. to trip the client's attempt timeout). */
  delay_ms: Schema.optionalWith(Millis, { default: () => 0 }),
  /** For `custom`: the status and the raw body (sent as `application/json` when it parses as JSON). */
  status: Schema.optionalWith(Schema.Int.pipe(Schema.between(100, 599)), { default: () => 200 }),
  body: Schema.optionalWith(Schema.String.pipe(Schema.maxLength(1_000_000)), { default: () => "" })
}) {}

/** Picks at most one fault for a request from the settings' rates. */
export const drawFault = (settings: FaultSettings, endpoint: string, random: () => number): FaultKind | undefined => {
  if (settings.endpoints.length > 0 && !settings.endpoints.includes(endpoint)) return undefined
  const draws: ReadonlyArray<readonly [number, FaultKind]> = [
    [settings.reset_rate, "resetBefore"],
    [settings.rate_limit_rate, "rateLimit429"],
    [settings.error_rate, "error500"],
    [settings.html_502_rate, "html502"],
    [settings.gateway_504_rate, "gateway504"],
    [settings.reset_after_rate, "resetAfter"]
  ]
  for (const [rate, kind] of draws) {
    if (rate > 0 && random() < rate) return kind
  }
  return undefined
}

export const latencyMillis = (settings: FaultSettings, endpoint: string, random: () => number): number => {
  if (settings.endpoints.length > 0 && !settings.endpoints.includes(endpoint)) return 0
  const jitter = settings.latency_jitter_ms > 0 ? random() * settings.latency_jitter_ms : 0
  const spike = settings.spike_rate > 0 && random() < settings.spike_rate ? settings.spike_ms : 0
  return settings.latency_ms + jitter + spike
}
