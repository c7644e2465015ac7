/**
 * Trace export from the `OTEL_*` variables: validation, off when unset, spans exported as OTLP
 * JSON to a real HTTP receiver (flushed when the layer closes), an unreachable collector neither
 * slowing nor failing the traced work (its spans dropped and counted), and log lines joined to
 * their span.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as OtelApi from "@opentelemetry/api"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Logging, Tracing } from "../src/index.js"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

/** OTLP JSON as the exporter posts it: the part this test reads. */
const ExportBody = Schema.parseJson(
  Schema.Struct({
    resourceSpans: Schema.Array(
      Schema.Struct({
        resource: Schema.Struct({
          attributes: Schema.Array(
            Schema.Struct({ key: Schema.String, value: Schema.Struct({ stringValue: Schema.optional(Schema.String) }) })
          )
        }),
        scopeSpans: Schema.Array(
          Schema.Struct({ spans: Schema.Array(Schema.Struct({ name: Schema.String, traceId: Schema.String })) })
        )
      })
    )
  })
)

interface Received {
  readonly type: string
  readonly body: string
  readonly apiKey: string
}

/** A real HTTP collector on a free port, keeping what it is sent. */
const receiver = Effect.gen(function* () {
  const bodies: Array<Received> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      bodies.push({
        type: req.headers["content-type"] ?? "",
        body: Buffer.concat(chunks).toString("utf8"),
        apiKey: String(req.headers["x-api-key"])
      })
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  yield* Effect.acquireRelease(
    Effect.async<void>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.void))
    }),
    () => Effect.sync(() => server.close())
  )
  const address: AddressInfo | string | null = server.address()
  const port = address !== null && typeof address === "object" ? address.port : 0
  return { url: `http://127.0.0.1:${port}`, bodies }
})

/** Export every span over OTLP to `url`, nothing else set. */
const otlpTo = (url: string, protocol: Tracing.Protocol): Tracing.Settings => ({
  _tag: "Otlp",
  url,
  protocol,
  headers: Redacted.make({}),
  serviceName: Option.none(),
  resourceAttributes: {},
  sampler: "always_on",
  samplerArg: Option.none()
})
describe("Tracing", () => {
  it.effect("unset: off; OTEL_SDK_DISABLED wins; every bad value named at once", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* Tracing.loadSettings.pipe(withEnv({})), { _tag: "Off", reason: "no endpoint" })
      const disabled = yield* Tracing.loadSettings.pipe(
        withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })
      )
      assert.strictEqual(disabled._tag, "Off")
      const on = yield* Tracing.loadSettings.pipe(
        withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })
      )
      assert.strictEqual(on._tag === "Otlp" ? on.url : "", "http://c:4318/v1/traces")
      assert.strictEqual(Tracing.describe(on), "exported to http://c:4318/v1/traces (OTLP http/json)")
      const error = yield* Tracing.loadSettings.pipe(
        withEnv({
          OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://x",
          OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
          OTEL_TRACES_SAMPLER: "sometimes",
          OTEL_TRACES_SAMPLER_ARG: "2"
        }),
        Effect.flip
      )
      const text = error.problems.join("\n")
      for (const name of [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG"
      ])
        assert.include(text, name)
    })
  )

  it.scoped(
    "exports spans as OTLP JSON to the collector, with the headers and resource configured; closing flushes",
    () =>
      Effect.gen(function* () {
        const r = yield* receiver
        const env = withEnv({
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${r.url}/v1/traces`,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=s%3Dcret",
          OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test"
        })
        const id = yield* Effect.map(Effect.currentSpan, (s) => s.traceId).pipe(
          Effect.withSpan("unit.work"),
          Effect.provide(Tracing.layer("hlconnect-test")),
          env
        )
        // The layer closed with the effect: its flush posted the span.
        assert.strictEqual(r.bodies.length, 1)
        const [sent] = r.bodies
        assert.strictEqual(sent?.type, "application/json")
        assert.strictEqual(sent?.apiKey, "s=cret")
        const body = Schema.decodeUnknownSync(ExportBody)(sent?.body)
        const resource = Object.fromEntries(
          body.resourceSpans[0]?.resource.attributes.map((a) => [a.key, a.value.stringValue]) ?? []
        )
        assert.strictEqual(resource["service.name"], "hlconnect-test")
        assert.strictEqual(resource["deployment.environment"], "test")
        const span = body.resourceSpans[0]?.scopeSpans[0]?.spans[0]
        assert.strictEqual(span?.name, "unit.work")
        assert.strictEqual(span?.traceId, id)
      })
  )

  it.live(
    "an unreachable collector fails nothing; its spans are dropped and counted",
    () =>
      Effect.gen(function* () {
        const before = (yield* Metric.value(Tracing.spansDropped)).count
        const exit = yield* Effect.exit(
          Effect.succeed(42).pipe(
            Effect.withSpan("unit.unreachable"),
            Effect.provide(
              Tracing.layerWith(
                // Nothing listens on port 9 of loopback (discard): the connection is refused.
                otlpTo("http://127.0.0.1:9/v1/traces", "http/protobuf"),
                // Long enough for the exporter's own retries to give up, so the flush reports the failure.
                { defaultServiceName: "hlconnect-test", shutdownTimeout: 30_000 }
              )
            )
          )
        )
        assert.deepStrictEqual(exit, Exit.succeed(42))
        assert.isAbove((yield* Metric.value(Tracing.spansDropped)).count, before)
      }),
    60_000
  )

  it.scoped("spans the batch queue cannot hold are dropped and counted, none lost silently", () =>
    Effect.gen(function* () {
      const r = yield* receiver
      const before = {
        exported: (yield* Metric.value(Tracing.spansExported)).count,
        dropped: (yield* Metric.value(Tracing.spansDropped)).count
      }
      // A queue of 2: the first 2 spans go out as a batch, 2 more wait, the other 6 find it full.
      const saved = { queue: process.env.OTEL_BSP_MAX_QUEUE_SIZE, batch: process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE }
      process.env.OTEL_BSP_MAX_QUEUE_SIZE = "2"
      process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE = "2"
      const tracing = Tracing.layerWith(otlpTo(`${r.url}/v1/traces`, "http/json"), {
        defaultServiceName: "hlconnect-test"
      })
      for (const [name, value] of [
        ["OTEL_BSP_MAX_QUEUE_SIZE", saved.queue],
        ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE", saved.batch]
      ] as const) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      yield* Effect.forEach(Array.from({ length: 10 }), () => Effect.withSpan(Effect.void, "unit.burst")).pipe(
        Effect.provide(tracing)
      )
      const exported = (yield* Metric.value(Tracing.spansExported)).count - before.exported
      const dropped = (yield* Metric.value(Tracing.spansDropped)).count - before.dropped
      assert.strictEqual(exported + dropped, 10)
      assert.isAbove(dropped, 0)
      assert.isAbove(exported, 0)
    })
  )

  it.scoped("with an OTel context manager registered, OTel code inside an Effect span sees that span as active", () =>
    Effect.gen(function* () {
      const r = yield* receiver
      // The smallest context manager: a stack, enough for synchronous code.
      let stack: Array<OtelApi.Context> = [OtelApi.ROOT_CONTEXT]
      const manager: OtelApi.ContextManager = {
        active: () => stack[stack.length - 1] ?? OtelApi.ROOT_CONTEXT,
        with: (context, fn, thisArg, ...args) => {
          stack = [...stack, context]
          try {
            return fn.call(thisArg, ...args)
          } finally {
            stack = stack.slice(0, -1)
          }
        },
        bind: (_context, target) => target,
        enable: () => manager,
        disable: () => {
          stack = [OtelApi.ROOT_CONTEXT]
          return manager
        }
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => OtelApi.context.setGlobalContextManager(manager)),
        () => Effect.sync(() => OtelApi.context.disable())
      )
      const settings = otlpTo(`${r.url}/v1/traces`, "http/json")
      const [effectSpan, otelSpanId] = yield* Effect.all([
        Effect.currentSpan,
        Effect.sync(() => OtelApi.trace.getSpan(OtelApi.context.active())?.spanContext().spanId)
      ]).pipe(
        Effect.withSpan("unit.with-manager"),
        Effect.provide(Tracing.layerWith(settings, { defaultServiceName: "t" }))
      )
      assert.strictEqual(otelSpanId, effectSpan.spanId)
    })
  )

  it.effect("a JSON log line inside a span carries its trace_id and span_id", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const span = yield* Effect.gen(function* () {
        yield* Effect.logInfo("outside")
        return yield* Effect.zipLeft(Effect.currentSpan, Effect.logInfo("inside")).pipe(Effect.withSpan("logged"))
      }).pipe(Effect.provide(Logging.layerWith({ format: "json", level: LogLevel.Info }, (line) => lines.push(line))))
      const [outside, inside] = lines.map((line) => JSON.parse(line))
      assert.isUndefined(outside.trace_id)
      assert.strictEqual(inside.trace_id, span.traceId)
      assert.strictEqual(inside.span_id, span.spanId)
      assert.strictEqual(inside.message, "inside")
    })
  )
})
