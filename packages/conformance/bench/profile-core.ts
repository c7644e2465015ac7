/**
 * Profiling harness: the core client alone, `purchaseInfo` at 64 in flight against the floor
 * server for a few seconds, profiled in-process (V8's sampling profiler through `node:inspector`)
 * over the steady window only — warm-up and module loading excluded — so the profile shows only
 * the client's per-call work (the bench mixes every contender into one process):
 *
 *   PROFILE_OUT=/tmp/core.cpuprofile pnpm tsx bench/profile-core.ts   (PROFILE_SECONDS, default 8)
 *
 * PROFILE_CONCURRENCY (default 64) sets the calls in flight.
 * PROFILE_CLIENT=undici runs `undici.request` + `body.json()` instead, the floor to compare with.
 * PROFILE_CLIENT=traced runs the core client with every span exported, as the bench's `core (traced)`
 * row does: `Tracing.layerWith` posting OTLP (PROFILE_OTLP=http/protobuf, the default, or http/json)
 * to a local receiver in this process that accepts everything; the exported span count is printed.
 * PROFILE_CLIENT=effect-spans runs it with a copy of Effect's built-in tracer: the client opens its
 * span (Effect's own span objects, exported nowhere), so only Effect's span machinery is added.
 */
import { HlConnect } from "@hlconnect/core"
import { Tracing } from "@hlconnect/service"
import { pinThisProcess, serverScripts, startOtlpSink, startServerProcess } from "../src/bench/index.js"
import { Effect, Layer, ManagedRuntime, Metric, Redacted, Tracer } from "effect"
import { request } from "undici"
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"

const SECONDS = Number(process.env.PROFILE_SECONDS ?? 8)
const TOKEN = "bench-token"

const main = async () => {
  pinThisProcess(1)
  const floor = await startServerProcess({ script: serverScripts.floor, env: { SANDBOX_TOKENS: TOKEN }, cpu: 0 })
  const client = process.env.PROFILE_CLIENT ?? "core"
  const core = HlConnect.Default({ baseUrl: floor.url, accessToken: Redacted.make(TOKEN) })
  // The bench's receiver: accepts every OTLP post (its body read and discarded).
  const sink = client === "traced" ? await startOtlpSink() : undefined
  let tracing: Layer.Layer<Tracing.Exporting> = Layer.succeed(Tracing.Exporting, false)
  if (sink !== undefined)
    tracing = sink.tracing(process.env.PROFILE_OTLP === "http/json" ? "http/json" : "http/protobuf")
  if (client === "effect-spans") {
    const builtIn = Effect.runSync(Effect.tracer)
    tracing = Layer.merge(
      Layer.setTracer(Tracer.make({ span: builtIn.span, context: builtIn.context })),
      Layer.succeed(Tracing.Exporting, false)
    )
  }
  const runtime = ManagedRuntime.make(Layer.merge(core, tracing))
  const hl = await runtime.runPromise(HlConnect)
  const headers = { accept: "application/json", authorization: `Bearer ${TOKEN}` }
  const call =
    client === "undici"
      ? async (orderId: number) => {
          const response = await request(`${floor.url}/purchase/info?order_id=${orderId}`, { headers })
          await response.body.json()
        }
      : (orderId: number) => runtime.runPromise(Effect.asVoid(hl.purchaseInfo({ order_id: orderId })))
  let completed = 0
  let total = 0
  let stop = false
  const worker = async (offset: number) => {
    let i = offset
    while (!stop) {
      await call(910_001 + (i++ % 8))
      completed++
      total++
    }
  }
  const workers = Array.from({ length: Number(process.env.PROFILE_CONCURRENCY ?? 64) }, (_, i) => worker(i))
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const session = new Session()
  session.connect()
  const out = process.env.PROFILE_OUT
  if (out !== undefined) {
    await session.post("Profiler.enable")
    await session.post("Profiler.start")
  }
  // PROFILE_HEAP_OUT: V8's sampling heap profiler (bytes allocated, by allocating stack) instead.
  const heapOut = process.env.PROFILE_HEAP_OUT
  if (heapOut !== undefined) {
    await session.post("HeapProfiler.enable")
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true
    })
  }
  const startCount = completed
  const started = performance.now()
  const cpu = process.cpuUsage()
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000))
  const used = process.cpuUsage(cpu)
  const seconds = (performance.now() - started) / 1000
  completed -= startCount
  if (out !== undefined) {
    const { profile } = await session.post("Profiler.stop")
    writeFileSync(out, JSON.stringify(profile))
  }
  if (heapOut !== undefined) {
    const { profile } = await session.post("HeapProfiler.stopSampling")
    writeFileSync(heapOut, JSON.stringify(profile))
  }
  stop = true
  await Promise.all(workers)
  process.stdout.write(
    `${completed} calls in ${seconds.toFixed(1)} s: ${(completed / seconds).toFixed(0)} req/s, ${((used.user + used.system) / completed).toFixed(0)} µs CPU/call\n`
  )
  await runtime.dispose()
  if (client === "traced") {
    const exported = await Effect.runPromise(Metric.value(Tracing.spansExported))
    const dropped = await Effect.runPromise(Metric.value(Tracing.spansDropped))
    // One span per call: every call's span must have reached the receiver (or been counted as dropped).
    process.stdout.write(`${total} calls in all, spans exported ${exported.count}, dropped ${dropped.count}\n`)
    await sink?.close()
  }
  floor.stop()
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
