/**
 * The cost of exported tracing per call, measured quickly and as fairly as a shared machine
 * allows: the core client untraced and traced (every span exported as OTLP to a local receiver,
 * as the bench's `core (traced)` row) in one process against the floor server, `purchaseInfo` at
 * 64 in flight, in windows that take turns (the order rotating per round), so machine noise hits
 * all alike. Per window: client CPU µs per call (`process.cpuUsage`); at the end the median of
 * each variant, its median difference to `core` within a round, and that every exported call's
 * span reached the receiver.
 *
 *   pnpm tsx bench/traced-cost.ts    (TRACED_ROUNDS, default 10; TRACED_WINDOW_MS, default 1000)
 *
 * TRACED_VARIANTS (comma-separated, default `core,traced`) picks the variants; the ones in
 * between split the cost by subtraction:
 *  - core: untraced (Effect's built-in tracer: the client opens no span).
 *  - effect-spans: a copy of Effect's built-in tracer, so the client opens its span (Effect's
 *    own span objects, kept by nobody): Effect's span machinery and the client's span code.
 *  - otel-noexport: OpenTelemetry SDK spans (`@effect/opentelemetry`'s tracer, without the
 *    per-step OTel context, as `Tracing` installs it) through the BatchSpanProcessor to an
 *    exporter that takes each batch and reports success: + OTel span creation, end, batching.
 *  - traced: `Tracing.layerWith`, OTLP http/protobuf to the receiver: + serialisation and HTTP.
 *  - traced-json: the same with OTLP http/json.
 *  - traced@N: `traced` with the batch processor's `maxExportBatchSize` N (as
 *    OTEL_BSP_MAX_EXPORT_BATCH_SIZE=N would set it; the SDK's default is 512).
 */
import * as OtelResource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { HlConnect } from "@hlconnect/core"
import { Tracing } from "@hlconnect/service"
import { ExportResultCode } from "@opentelemetry/core"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, ManagedRuntime, Metric, Redacted, Tracer } from "effect"
import { constants, PerformanceObserver } from "node:perf_hooks"
import { median, pinThisProcess, serverScripts, startOtlpSink, startServerProcess } from "../src/bench/index.js"

const ROUNDS = Number(process.env.TRACED_ROUNDS ?? 10)
const WINDOW_MS = Number(process.env.TRACED_WINDOW_MS ?? 1000)
const VARIANTS = (process.env.TRACED_VARIANTS ?? "core,traced").split(",").map((v) => v.trim())
const TOKEN = "bench-token"
/** Calls per round and variant at 1 in flight, for the p50. */
const LATENCY_CALLS = Number(process.env.TRACED_LATENCY_CALLS ?? 300)

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

const main = async () => {
  pinThisProcess(1)
  const floor = await startServerProcess({ script: serverScripts.floor, env: { SANDBOX_TOKENS: TOKEN }, cpu: 0 })
  const sink = await startOtlpSink()
  const core = HlConnect.Default({ baseUrl: floor.url, accessToken: Redacted.make(TOKEN) })
  const otlp = sink.tracing
  let discarded = 0
  const otelNoExport = Layer.unwrapEffect(
    Effect.map(OtelTracer.make, (otel) =>
      Layer.setTracer(Tracer.make({ span: (...args) => otel.span(...args), context: (execution) => execution() }))
    )
  ).pipe(
    Layer.provideMerge(OtelTracer.layerTracer),
    Layer.provide(
      NodeSdk.layerTracerProvider(
        new BatchSpanProcessor({
          export: (spans, done) => {
            discarded += spans.length
            done({ code: ExportResultCode.SUCCESS })
          },
          shutdown: () => Promise.resolve()
        })
      )
    ),
    Layer.provide(OtelResource.layer({ serviceName: "client-bench" })),
    Layer.discard
  )
  const builtIn = Effect.runSync(Effect.tracer)
  /** The processor reads OTEL_BSP_* when it is made, that is when the layer is. */
  const withBatchSize = <A>(size: string, make: () => A): A => {
    const saved = process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE
    process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE = size
    try {
      return make()
    } finally {
      if (saved === undefined) delete process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE
      else process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE = saved
    }
  }
  const layers: Record<string, Layer.Layer<never> | undefined> = {
    core: Layer.empty,
    "effect-spans": Layer.setTracer(Tracer.make({ span: builtIn.span, context: builtIn.context })),
    "otel-noexport": otelNoExport,
    traced: Layer.discard(otlp("http/protobuf")),
    "traced-json": Layer.discard(otlp("http/json"))
  }
  const contenders = await Promise.all(
    VARIANTS.map(async (name) => {
      const batch = name.match(/^traced@(\d+)$/)?.[1]
      const layer =
        batch === undefined ? layers[name] : withBatchSize(batch, () => Layer.discard(otlp("http/protobuf")))
      if (layer === undefined) throw new Error(`unknown variant ${name} (${Object.keys(layers).join(", ")})`)
      const runtime = ManagedRuntime.make(Layer.merge(core, layer))
      return { name, runtime, client: await runtime.runPromise(HlConnect), calls: 0 }
    })
  )

  // Garbage collection pauses on the main thread (ms), by kind, as V8 reports them.
  const gcPauses = { minor: 0, major: 0 }
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // A gc entry's JSON carries its `detail.kind` (the typings do not declare `detail`).
      const json: unknown = entry.toJSON()
      const detail = typeof json === "object" && json !== null && "detail" in json ? json.detail : undefined
      const kind = typeof detail === "object" && detail !== null && "kind" in detail ? detail.kind : undefined
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcPauses.minor += entry.duration
      else gcPauses.major += entry.duration
    }
  }).observe({ entryTypes: ["gc"] })

  const window = async (contender: (typeof contenders)[number], millis: number) => {
    let completed = 0
    let stop = false
    const worker = async (offset: number) => {
      let i = offset
      while (!stop) {
        await contender.runtime.runPromise(
          Effect.asVoid(contender.client.purchaseInfo({ order_id: 910_001 + (i++ % 8) }))
        )
        completed++
      }
    }
    const workers = Array.from({ length: 64 }, (_, i) => worker(i))
    await sleep(200)
    const startCount = completed
    const gcBefore = { ...gcPauses }
    const cpu = process.cpuUsage()
    await sleep(millis)
    const used = process.cpuUsage(cpu)
    const calls = completed - startCount
    // The observer is told of pauses asynchronously: those of the window's last moments may be
    // counted in the next window; over many windows it evens out.
    const gc = {
      minor: ((gcPauses.minor - gcBefore.minor) * 1000) / calls,
      major: ((gcPauses.major - gcBefore.major) * 1000) / calls
    }
    stop = true
    await Promise.all(workers)
    contender.calls += completed
    return { cpu: (used.user + used.system) / calls, gc }
  }

  /** 1 in flight: the wall time of each call (µs), pooled over the rounds for the p50. */
  const latencies = new Map<string, Array<number>>(contenders.map((c) => [c.name, []]))
  const sequentialCpu = new Map<string, Array<number>>(contenders.map((c) => [c.name, []]))
  const sequential = async (contender: (typeof contenders)[number], count: number) => {
    const samples = latencies.get(contender.name)
    const cpu = process.cpuUsage()
    for (let i = 0; i < count; i++) {
      const started = performance.now()
      await contender.runtime.runPromise(Effect.asVoid(contender.client.purchaseInfo({ order_id: 910_001 + (i % 8) })))
      samples?.push((performance.now() - started) * 1000)
      contender.calls++
    }
    const used = process.cpuUsage(cpu)
    sequentialCpu.get(contender.name)?.push((used.user + used.system) / count)
  }

  for (const contender of contenders) await window(contender, 1000)
  const results = new Map<string, Array<number>>(contenders.map((c) => [c.name, []]))
  const gcMinor = new Map<string, Array<number>>(contenders.map((c) => [c.name, []]))
  const gcMajor = new Map<string, Array<number>>(contenders.map((c) => [c.name, []]))
  const differences = new Map<string, Array<number>>(contenders.map((c) => [c.name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]).filter((c) => c !== undefined)
    const perCall = new Map<string, number>()
    for (const contender of order) {
      await sequential(contender, LATENCY_CALLS)
      const measured = await window(contender, WINDOW_MS)
      perCall.set(contender.name, measured.cpu)
      gcMinor.get(contender.name)?.push(measured.gc.minor)
      gcMajor.get(contender.name)?.push(measured.gc.major)
    }
    for (const [name, value] of perCall) {
      results.get(name)?.push(value)
      differences.get(name)?.push(value - (perCall.get("core") ?? Number.NaN))
    }
  }
  const exporting = contenders.filter((c) => c.name.startsWith("traced"))
  const exportedCalls = exporting.reduce((sum, c) => sum + c.calls, 0)
  const noExportCalls = contenders.find((c) => c.name === "otel-noexport")?.calls ?? 0
  await Promise.all(contenders.map((c) => c.runtime.dispose()))
  const exported = (await Effect.runPromise(Metric.value(Tracing.spansExported))).count
  const dropped = (await Effect.runPromise(Metric.value(Tracing.spansDropped))).count
  await sink.close()
  floor.stop()

  const base = median(results.get("core") ?? [])
  process.stdout.write(`${ROUNDS} rounds of ${WINDOW_MS} ms windows, 64 in flight; client CPU µs per call\n`)
  for (const [name, values] of results) {
    const difference = median(differences.get(name) ?? [])
    process.stdout.write(
      `${name.padEnd(14)} median ${median(values).toFixed(1).padStart(6)} (min ${Math.min(...values).toFixed(1)}, max ${Math.max(...values).toFixed(1)})` +
        `  −core per round: median ${Number.isNaN(difference) ? "n/a" : difference.toFixed(1).padStart(5)}` +
        `  ×core ${(median(values) / base).toFixed(2)}  p50 ${median(latencies.get(name) ?? []).toFixed(0)} µs (×core ${(median(latencies.get(name) ?? []) / median(latencies.get("core") ?? [])).toFixed(2)}, CPU ${median(sequentialCpu.get(name) ?? []).toFixed(0)} µs/call at 1 in flight)  GC pauses minor/major ${median(gcMinor.get(name) ?? []).toFixed(1)}/${median(gcMajor.get(name) ?? []).toFixed(1)}` +
        `  [${values.map((v) => v.toFixed(0)).join(" ")}]\n`
    )
  }
  if (exporting.length > 0) {
    process.stdout.write(
      `exported variants' calls ${exportedCalls}, spans exported ${exported}, dropped ${dropped}${exported + dropped === exportedCalls ? " (all accounted for)" : " — SPANS MISSING"}\n`
    )
  }
  if (noExportCalls > 0) {
    process.stdout.write(
      `otel-noexport calls ${noExportCalls}, spans handed to its exporter ${discarded}${discarded === noExportCalls ? " (all)" : " — SPANS MISSING"}\n`
    )
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
