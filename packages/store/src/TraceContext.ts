/**
 * The W3C trace context a durable record carries across a hop (the inbox event, an order line's
 * last change, the outbox event), so the worker that picks the record up later — the dispatcher,
 * the reconciler, the deliverer — continues the trace that wrote it. Stored as text: the
 * `traceparent`, then, when the sender gave one, a newline and its `tracestate` (kept for the
 * record; the continued span is made from the `traceparent`).
 */
import { traceparentOf } from "@hlconnect/core"
import { Effect, Option, Schema, Tracer } from "effect"

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const zeroTrace = "0".repeat(32)
const zeroSpan = "0".repeat(16)

const isTraceparent = (s: string): boolean => {
  const m = traceparentPattern.exec(s)
  return m !== null && m[1] !== zeroTrace && m[2] !== zeroSpan
}
/** A `tracestate` we keep: at most 512 printable ASCII characters (so never a newline). */
const isTracestate = Schema.is(
  Schema.String.pipe(Schema.minLength(1), Schema.maxLength(512), Schema.pattern(/^[\x20-\x7e]*$/))
)

/** The stored form as a column value: `traceparent` [`\n` `tracestate`], or NULL. */
export const Column = Schema.OptionFromNullOr(Schema.String.pipe(Schema.maxLength(600)))

/** The context received in headers, when `traceparent` is well-formed (else none: a bad one is ignored, as W3C says). */
export const ofHeaders = (traceparent: string | undefined, tracestate: string | undefined): string | undefined => {
  const parent = traceparent?.trim().toLowerCase()
  if (parent === undefined || !isTraceparent(parent)) return undefined
  return tracestate !== undefined && isTracestate(tracestate) ? `${parent}\n${tracestate}` : parent
}

/** The current span's context, to store with what this fiber writes; NULL outside any span. */
export const current: Effect.Effect<string | null> = Effect.map(Effect.serviceOption(Tracer.ParentSpan), (span) =>
  Option.isSome(span) ? traceparentOf(span.value) : null
)

/** A stored context as a span to parent or link to; none when absent or malformed (never a failure). */
export const toSpan = (
  stored: Option.Option<string> | string | null | undefined
): Option.Option<Tracer.ExternalSpan> => {
  const text = Option.isOption(stored) ? Option.getOrUndefined(stored) : (stored ?? undefined)
  const parent = text?.split("\n", 1)[0]
  const m = parent === undefined ? null : traceparentPattern.exec(parent)
  if (parent === undefined || m === null || !isTraceparent(parent)) return Option.none()
  const [, traceId = "", spanId = "", flags = "00"] = m
  return Option.some(Tracer.externalSpan({ traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 }))
}

/**
 * `effect` in a span named `name` that continues the stored contexts: a child in their trace when
 * every record was written in one trace (one record → its work; an order's lines registered by
 * one dispatch), else the root of a new trace linked to one span of each (fan-in: records written
 * by several traces meet in one piece of work). Without any stored context, a plain span.
 */
export const continueFrom =
  (
    name: string,
    stored: ReadonlyArray<Option.Option<string> | string | null | undefined>,
    attributes: Record<string, unknown> = {}
  ) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    // One span per trace: records written in one trace (an order's lines, each by its own span) are one origin.
    const distinct = [...new Map(stored.flatMap((s) => Option.toArray(toSpan(s))).map((s) => [s.traceId, s])).values()]
    const [first] = distinct
    // No captured call site: it would always be this line (the name says what the span is), and
    // capturing one costs ~25 µs CPU per reconciled order.
    if (first === undefined) return Effect.withSpan(effect, name, { attributes, captureStackTrace: false })
    if (distinct.length === 1)
      return Effect.withSpan(effect, name, { parent: first, attributes, captureStackTrace: false })
    return Effect.withSpan(effect, name, {
      root: true,
      captureStackTrace: false,
      links: distinct.map((span): Tracer.SpanLink => ({ _tag: "SpanLink", span, attributes: {} })),
      attributes
    })
  }
