/**
 * Trace export for every app and the launcher, one way: Effect's spans to an OTLP/HTTP collector
 * (Jaeger, Tempo, Honeycomb, Datadog …) through `@effect/opentelemetry` and the OpenTelemetry SDK,
 * configured only by the standard `OTEL_*` variables. Without an endpoint (or with
 * `OTEL_SDK_DISABLED=true`) nothing is built: no exporter, no provider, Effect's own tracer stays.
 * Export is batched and off the request path: an unreachable collector costs a request nothing;
 * what could not be sent is dropped and counted (`otel_spans_dropped_total`). Shutdown flushes.
 */
import * as OtelResource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as Headers from "@effect/platform/Headers"
import * as OtelApi from "@opentelemetry/api"
import { type ExportResult, ExportResultCode } from "@opentelemetry/core"
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { OTLPTraceExporter as ProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  type BufferConfig,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler
} from "@opentelemetry/sdk-trace-base"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Tracer from "effect/Tracer"
import * as ServiceConfig from "./ServiceConfig.js"

export type Protocol = "http/protobuf" | "http/json"

export const samplerNames = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio"
] as const
export type SamplerName = (typeof samplerNames)[number]

/** Where spans go, or why they go nowhere. */
export type Settings =
  | { readonly _tag: "Off"; readonly reason: "no endpoint" | "OTEL_SDK_DISABLED" }
  | {
      readonly _tag: "Otlp"
      /** The traces URL spans are posted to (`…/v1/traces` under `OTEL_EXPORTER_OTLP_ENDPOINT`). */
      readonly url: string
      readonly protocol: Protocol
      /** `OTEL_EXPORTER_OTLP_HEADERS`: often an API key, so never logged. */
      readonly headers: Redacted.Redacted<Readonly<Record<string, string>>>
      /** `OTEL_SERVICE_NAME`, when set (else the app's name). */
      readonly serviceName: Option.Option<string>
      /** `OTEL_RESOURCE_ATTRIBUTES`. */
      readonly resourceAttributes: Readonly<Record<string, string>>
      readonly sampler: SamplerName
      readonly samplerArg: Option.Option<number>
    }

const invalid = (message: string) => Either.left(ConfigError.InvalidData([], message))

/** `key=value,key=value` with percent-encoded values (the W3C Baggage form the OTEL spec uses). */
const keyValueList = (name: string): Config.Config<Readonly<Record<string, string>>> =>
  Config.string(name).pipe(
    Config.withDefault(""),
    Config.mapOrFail((raw) => {
      const entries: Record<string, string> = {}
      for (const part of raw.split(",")) {
        if (part.trim() === "") continue
        const at = part.indexOf("=")
        const key = at < 0 ? "" : part.slice(0, at).trim()
        if (key === "") return invalid(`Expected key=value pairs separated by commas, got an entry without a key`)
        try {
          entries[key] = decodeURIComponent(part.slice(at + 1).trim())
        } catch {
          return invalid(`the value of ${JSON.stringify(key)} is not valid percent-encoding`)
        }
      }
      return Either.right(entries)
    })
  )

const httpUrl = (name: string): Config.Config<Option.Option<URL>> =>
  Config.option(
    Config.string(name).pipe(
      Config.mapOrFail((raw) => {
        try {
          const url = new URL(raw.trim())
          return url.protocol === "http:" || url.protocol === "https:"
            ? Either.right(url)
            : invalid(`Expected an http:// or https:// URL, got ${JSON.stringify(raw)}`)
        } catch {
          return invalid(`Expected an http:// or https:// URL, got ${JSON.stringify(raw)}`)
        }
      })
    )
  )

/** The spec: `OTEL_EXPORTER_OTLP_ENDPOINT` is a base, the signal path is appended to it. */
const tracesUrl = (base: URL): string => `${base.href.replace(/\/+$/, "")}/v1/traces`

/** Every `OTEL_*` variable this product reads (all validated at start-up, every problem at once). */
export const config: Config.Config<Settings> = Config.all({
  disabled: Config.boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false)),
  endpoint: httpUrl("OTEL_EXPORTER_OTLP_ENDPOINT"),
  tracesEndpoint: httpUrl("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
  protocol: Config.literal(
    "http/protobuf",
    "http/json"
  )("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").pipe(
    Config.orElse(() => Config.literal("http/protobuf", "http/json")("OTEL_EXPORTER_OTLP_PROTOCOL")),
    Config.withDefault<Protocol>("http/protobuf")
  ),
  headers: keyValueList("OTEL_EXPORTER_OTLP_HEADERS"),
  serviceName: Config.option(Config.nonEmptyString("OTEL_SERVICE_NAME")),
  resourceAttributes: keyValueList("OTEL_RESOURCE_ATTRIBUTES"),
  sampler: Config.literal(...samplerNames)("OTEL_TRACES_SAMPLER").pipe(
    Config.withDefault<SamplerName>("parentbased_always_on")
  ),
  samplerArg: Config.option(
    Config.number("OTEL_TRACES_SAMPLER_ARG").pipe(
      Config.validate({ message: "Expected a ratio between 0 and 1", validation: (n) => n >= 0 && n <= 1 })
    )
  )
}).pipe(
  Config.map((c): Settings => {
    if (c.disabled) return { _tag: "Off", reason: "OTEL_SDK_DISABLED" }
    const url = Option.isSome(c.tracesEndpoint)
      ? Option.some(c.tracesEndpoint.value.href)
      : Option.map(c.endpoint, tracesUrl)
    if (Option.isNone(url)) return { _tag: "Off", reason: "no endpoint" }
    return {
      _tag: "Otlp",
      url: url.value,
      protocol: c.protocol,
      headers: Redacted.make(c.headers),
      serviceName: c.serviceName,
      resourceAttributes: c.resourceAttributes,
      sampler: c.sampler,
      samplerArg: c.samplerArg
    }
  })
)

export const loadSettings: Effect.Effect<Settings, ServiceConfig.InvalidConfiguration> =
  ServiceConfig.loadConfig(config)

/** One line for a banner or a log: whether traces are exported, and where (the URL without credentials). */
export const describe = (settings: Settings): string =>
  settings._tag === "Off"
    ? settings.reason === "OTEL_SDK_DISABLED"
      ? "not exported (OTEL_SDK_DISABLED=true)"
      : "not exported (set OTEL_EXPORTER_OTLP_ENDPOINT to send them to a collector)"
    : `exported to ${safeUrl(settings.url)} (OTLP ${settings.protocol})`

const safeUrl = (href: string): string => {
  const url = new URL(href)
  url.username = ""
  url.password = ""
  url.search = ""
  return url.href
}

const sampler = (settings: Extract<Settings, { _tag: "Otlp" }>): Sampler => {
  const ratio = Option.getOrElse(settings.samplerArg, () => 1)
  switch (settings.sampler) {
    case "always_on":
      return new AlwaysOnSampler()
    case "always_off":
      return new AlwaysOffSampler()
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio)
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() })
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) })
  }
}

export const spansExported = Metric.counter("otel_spans_exported_total", {
  description: "Spans the OTLP exporter delivered to the collector",
  incremental: true
})
export const spansDropped = Metric.counter("otel_spans_dropped_total", {
  description:
    "Spans the OTLP exporter could not deliver (collector unreachable or refusing); dropped, never retried by a request",
  incremental: true
})

/** Counts what the exporter delivered and what it dropped; otherwise the exporter itself. */
class CountingExporter implements SpanExporter {
  constructor(private readonly inner: SpanExporter) {}
  export(spans: Array<ReadableSpan>, resultCallback: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) spansExported.unsafeUpdate(spans.length, [])
      else spansDropped.unsafeUpdate(spans.length, [])
      resultCallback(result)
    })
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown()
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve()
  }
}

/**
 * Counts the spans the batch processor drops because its queue is full (`maxQueueSize`, when the
 * collector is slower than spans end) into `otel_spans_dropped_total`: the SDK reports them only
 * through its own self-observability counter (`otel.sdk.processor.span.processed`, `error.type`
 * `queue_full`), which this meter provider is handed; every other instrument is a no-op.
 */
const queueDropCounter: OtelApi.MeterProvider = {
  getMeter: () => {
    const noop = OtelApi.createNoopMeter()
    return {
      createCounter: (name, options) =>
        name === "otel.sdk.processor.span.processed"
          ? {
              add: (value, attributes) => {
                if (attributes?.["error.type"] === "queue_full") spansDropped.unsafeUpdate(value, [])
              }
            }
          : noop.createCounter(name, options),
      createGauge: (name, options) => noop.createGauge(name, options),
      createHistogram: (name, options) => noop.createHistogram(name, options),
      createUpDownCounter: (name, options) => noop.createUpDownCounter(name, options),
      createObservableGauge: (name, options) => noop.createObservableGauge(name, options),
      createObservableCounter: (name, options) => noop.createObservableCounter(name, options),
      createObservableUpDownCounter: (name, options) => noop.createObservableUpDownCounter(name, options),
      addBatchObservableCallback: (callback, observables) => noop.addBatchObservableCallback(callback, observables),
      removeBatchObservableCallback: (callback, observables) =>
        noop.removeBatchObservableCallback(callback, observables)
    }
  }
}

/**
 * The batch span processor: the SDK's defaults and `OTEL_BSP_*` variables for its sizes and
 * delays, and queue-full drops counted (`sdk-trace-base`'s processor hands its config on to
 * `sdk-trace`'s, whose `selfObsMeterProvider` reports them).
 */
const batchProcessor = (exporter: SpanExporter): BatchSpanProcessor => {
  const config: BufferConfig & { readonly selfObsMeterProvider: OtelApi.MeterProvider } = {
    selfObsMeterProvider: queueDropCounter
  }
  return new BatchSpanProcessor(exporter, config)
}

const exporterFor = (settings: Extract<Settings, { _tag: "Otlp" }>): SpanExporter => {
  const options = { url: settings.url, headers: { ...Redacted.value(settings.headers) } }
  return new CountingExporter(
    settings.protocol === "http/json" ? new JsonExporter(options) : new ProtobufExporter(options)
  )
}

/**
 * Headers a server span must not carry as attributes: credentials (Effect's defaults) and the
 * addresses of whoever called (customer IPs behind a proxy), plus webhook signatures.
 */
export const redactedHeaderNames: ReadonlyArray<string> = [
  "authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "proxy-authorization",
  "x-forwarded-for",
  "x-real-ip",
  "forwarded",
  "true-client-ip",
  "cf-connecting-ip",
  "webhook-signature"
]

/**
 * Whether spans are exported (`layerWith` installed a tracer): hot paths that build spans by
 * hand (the relay's raw ingest) skip that work, and storing trace context, when they are not.
 */
export class Exporting extends Context.Reference<Exporting>()("@hlconnect/service/Tracing/Exporting", {
  defaultValue: () => false
}) {}

/**
 * Whether OpenTelemetry's context API carries a context into a callback, i.e. a global context
 * manager is registered (the SDK's `register()`, `@opentelemetry/sdk-node`); without one,
 * `context.with` ignores the context it is given and `context.active()` is always the root.
 */
const otelContextPropagates = (): boolean => {
  const probe = OtelApi.createContextKey("@hlconnect/service/Tracing/probe")
  return OtelApi.context.with(
    OtelApi.ROOT_CONTEXT.setValue(probe, true),
    () => OtelApi.context.active().getValue(probe) === true
  )
}

/**
 * Effect's spans as OpenTelemetry spans (`@effect/opentelemetry`'s tracer). Its `context` hook
 * runs around every step of every fiber inside a span and builds an OTel context holding the
 * span, so that OTel-instrumented code called from the fiber sees it as the active span; that
 * context goes nowhere unless a context manager is registered, and building it per step was the
 * largest part of exported tracing's cost per call. So without a context manager (this product
 * registers none) the hook just runs the step; with one, it is kept as it is.
 */
const layerOtelTracer = Layer.unwrapEffect(
  Effect.map(OtelTracer.make, (otel) =>
    Layer.setTracer(
      otelContextPropagates() ? otel : Tracer.make({ span: otel.span, context: (execution) => execution() })
    )
  )
).pipe(Layer.provideMerge(OtelTracer.layerTracer))

/**
 * The tracer for `settings`: Effect's spans exported through a batch span processor, flushed on
 * shutdown (at most `shutdownTimeout`). `Off`: the empty layer.
 */
export const layerWith = (
  settings: Settings,
  options: { readonly defaultServiceName: string; readonly shutdownTimeout?: number }
): Layer.Layer<Exporting> => {
  if (settings._tag === "Off") return Layer.succeed(Exporting, false)
  const resource = OtelResource.layer({
    serviceName: Option.getOrElse(settings.serviceName, () => options.defaultServiceName),
    attributes: settings.resourceAttributes
  })
  return layerOtelTracer.pipe(
    Layer.provide(
      NodeSdk.layerTracerProvider(batchProcessor(exporterFor(settings)), {
        sampler: sampler(settings),
        shutdownTimeout: options.shutdownTimeout ?? 5000
      })
    ),
    Layer.provide(resource),
    Layer.discard,
    Layer.merge(Layer.succeed(Exporting, true))
  )
}

/** The tracer configured from the `OTEL_*` variables (see `config`); fails with `InvalidConfiguration`. */
export const layer = (defaultServiceName: string): Layer.Layer<Exporting, ServiceConfig.InvalidConfiguration> =>
  Layer.unwrapEffect(Effect.map(loadSettings, (settings) => layerWith(settings, { defaultServiceName })))

/** Runs `effect` with the headers in `redactedHeaderNames` kept out of HTTP spans. */
export const withRedactedHeaders = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(effect, Headers.currentRedactedNames, redactedHeaderNames)
