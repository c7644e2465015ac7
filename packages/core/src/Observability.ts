/**
 * What a call tells the outside: one `HlConnect.<endpoint>` client span per call (retries
 * included) and the `hlconnect_client_*` metrics. Both are paid for only when they are used: the
 * span is opened only when a tracer other than Effect's built-in one is installed (the built-in
 * tracer's spans go nowhere), and everything per endpoint — labels, span options — is made once.
 */
import { Cause, Effect, type Exit, Metric, MetricBoundaries, MetricLabel, Option, type Tracer } from "effect"

export const callsTotal = Metric.counter("hlconnect_client_calls_total", {
  description: "HL Connect calls by endpoint and outcome, after retries",
  incremental: true
})
export const attemptsTotal = Metric.counter("hlconnect_client_attempts_total", {
  description: "HTTP attempts sent to HL Connect, retries included",
  incremental: true
})
export const callDuration = Metric.histogram(
  "hlconnect_client_call_duration_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 16 }),
  "Duration of HL Connect calls, retries included"
)

const outcomeOf = (exit: Exit.Exit<unknown, { readonly _tag: string }>): string => {
  if (exit._tag === "Success") return "success"
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) return failure.value._tag
  return Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "defect"
}

/**
 * Effect's built-in tracer, the one every fiber has unless a program installs another (an
 * OpenTelemetry exporter, a test's recording tracer). Its spans are kept by nobody.
 */
const builtInTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** Attributes a call adds to its span (`hlconnect.order_number`, `hlconnect.order_line_id`). */
export type SpanAttributes = Readonly<Record<string, number>>

/**
 * The span's options and its `code.stacktrace`, made once per endpoint. Effect would otherwise
 * capture a stack trace (a `new Error()`) per call, and with a capture function it keeps one
 * entry per span in a global WeakMap (work for every garbage collection); the frame it records is
 * always the call pipeline, so the call records the same frame itself when it fails.
 */
const spanOptionsOf = (endpoint: string, method: string) => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 3
  const site = new Error()
  Error.stackTraceLimit = limit
  let frame: string | undefined
  return {
    options: {
      kind: "client",
      attributes: { "hlconnect.endpoint": endpoint, "http.request.method": method },
      captureStackTrace: false
    } satisfies Tracer.SpanOptions,
    stackTrace: () => (frame ??= site.stack?.split("\n")[3]?.trim() ?? "")
  }
}

/**
 * Observation of one endpoint's calls, made once per endpoint. Metric labels are arrays made once:
 * `Metric.unsafeUpdate` caches its hook by the identity of the label array, so a fresh array per
 * call would mean a fresh metric key, hash and registry lookup per call.
 */
export const makeObserver = (endpoint: string, method: string) => {
  const endpointLabel = MetricLabel.make("endpoint", endpoint)
  const endpointLabels: ReadonlyArray<MetricLabel.MetricLabel> = [endpointLabel]
  const byOutcome = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
  const outcomeLabels = (outcome: string) => {
    let labels = byOutcome.get(outcome)
    if (labels === undefined) {
      labels = [endpointLabel, MetricLabel.make("outcome", outcome)]
      byOutcome.set(outcome, labels)
    }
    return labels
  }
  const spanName = `HlConnect.${endpoint}`
  const { options: spanOptions, stackTrace } = spanOptionsOf(endpoint, method)
  return {
    /** Counts one attempt. */
    attempt: () => attemptsTotal.unsafeUpdate(1, endpointLabels),
    /**
     * The call, measured (duration, outcome) and in its span when a tracer is listening; the span
     * then carries `about` and the outcome (`hlconnect.outcome`). `call` is invoked once per run of
     * the returned effect, when it runs (so it may set up per-run state). The call is handed its span (or
     * `undefined`) instead of finding it in its context: nothing inside a call but its requests
     * reads the span, and making it the context's parent span copied the fiber's context and refs
     * twice per call, the largest part of the span's cost.
     */
    call: <A, E extends { readonly _tag: string }>(
      call: (span: Tracer.Span | undefined) => Effect.Effect<A, E>,
      about?: SpanAttributes
    ): Effect.Effect<A, E> => {
      // Run when the call runs (inside `tracerWith`, or by `useSpan` once the span is open): `call`
      // builds the call's per-run state then, so no `suspend` is needed around either.
      const measured = (span: Tracer.Span | undefined) => {
        const started = performance.now()
        return Effect.onExit(call(span), (exit) => {
          const outcome = outcomeOf(exit)
          callDuration.unsafeUpdate((performance.now() - started) / 1000, endpointLabels)
          callsTotal.unsafeUpdate(1, outcomeLabels(outcome))
          if (span !== undefined) {
            span.attribute("hlconnect.outcome", outcome)
            if (exit._tag === "Failure") span.attribute("code.stacktrace", stackTrace())
          }
          return Effect.void
        })
      }
      return Effect.tracerWith((tracer) =>
        tracer === builtInTracer
          ? measured(undefined)
          : Effect.useSpan(
              spanName,
              about === undefined
                ? spanOptions
                : { ...spanOptions, attributes: { ...spanOptions.attributes, ...about } },
              measured
            )
      )
    }
  }
}
