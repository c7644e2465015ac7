/**
 * The cost of exported tracing per call, measured quickly and as fairly as a shared machine
 * allows: the core client untraced and traced (every span exported as OTLP to a local receiver,
 * as the bench's `core (traced)` row) in one process against the floor server, `purchaseInfo` at
 * 64 in flight, in alternating windows (ABAB…), so machine noise hits both alike. Per window:
 * client CPU µs per call (`process.cpuUsage`); at the end the median of each and of the
 * per-pair differences, and that every traced call's span reached the receiver.
 *
 *   pnpm tsx bench/traced-cost.ts        (TRACED_PAIRS, default 10; TRACED_WINDOW_MS, default 1000;
 *                                         TRACED_OTLP=http/json for the JSON serialiser)
 */
import { HlConnect } from "@hlconnect/core"
import { Tracing } from "@hlconnect/service"
import { Effect, Layer, ManagedRuntime, Metric, Option, Redacted } from "effect"
import { createServer } from "node:http"
import { pinThisProcess, serverScripts, startServerProcess } from "../src/bench/index.js"

const PAIRS = Number(process.env.TRACED_PAIRS ?? 10)
const WINDOW_MS = Number(process.env.TRACED_WINDOW_MS ?? 1000)
const TOKEN = "bench-token"

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))
const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2
}

const main = async () => {
  pinThisProcess(1)
  const floor = await startServerProcess({ script: serverScripts.floor, env: { SANDBOX_TOKENS: TOKEN }, cpu: 0 })
  const receiver = createServer((req, res) => {
    req.resume()
    req.on("end", () => res.writeHead(200, { "content-type": "application/x-protobuf" }).end())
  })
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
  const address = receiver.address()
  const port = address !== null && typeof address === "object" ? address.port : 0
  const core = HlConnect.Default({ baseUrl: floor.url, accessToken: Redacted.make(TOKEN) })
  const tracing = Tracing.layerWith(
    {
      _tag: "Otlp",
      url: `http://127.0.0.1:${port}/v1/traces`,
      protocol: process.env.TRACED_OTLP === "http/json" ? "http/json" : "http/protobuf",
      headers: Redacted.make({}),
      serviceName: Option.some("client-bench"),
      resourceAttributes: {},
      sampler: "parentbased_always_on",
      samplerArg: Option.none()
    },
    { defaultServiceName: "client-bench" }
  )
  const untraced = ManagedRuntime.make(core)
  const traced = ManagedRuntime.make(Layer.merge(core, tracing))
  const contenders = [
    { name: "core", runtime: untraced, client: await untraced.runPromise(HlConnect), calls: 0 },
    { name: "core (traced)", runtime: traced, client: await traced.runPromise(HlConnect), calls: 0 }
  ]

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
    const cpu = process.cpuUsage()
    await sleep(millis)
    const used = process.cpuUsage(cpu)
    const calls = completed - startCount
    stop = true
    await Promise.all(workers)
    contender.calls += completed
    return (used.user + used.system) / calls
  }

  for (const contender of contenders) await window(contender, 1000)
  const results = new Map<string, Array<number>>(contenders.map((c) => [c.name, []]))
  const differences: Array<number> = []
  for (let pair = 0; pair < PAIRS; pair++) {
    const order = pair % 2 === 0 ? contenders : [...contenders].reverse()
    const perCall = new Map<string, number>()
    for (const contender of order) perCall.set(contender.name, await window(contender, WINDOW_MS))
    for (const [name, value] of perCall) results.get(name)?.push(value)
    differences.push((perCall.get("core (traced)") ?? 0) - (perCall.get("core") ?? 0))
  }
  const tracedCalls = contenders[1]?.calls ?? 0
  await Promise.all([untraced.dispose(), traced.dispose()])
  const exported = (await Effect.runPromise(Metric.value(Tracing.spansExported))).count
  const dropped = (await Effect.runPromise(Metric.value(Tracing.spansDropped))).count
  receiver.close()
  floor.stop()

  for (const [name, values] of results) {
    process.stdout.write(
      `${name.padEnd(14)} CPU µs/call median ${median(values).toFixed(1)} (min ${Math.min(...values).toFixed(1)}, max ${Math.max(...values).toFixed(1)}): ${values.map((v) => v.toFixed(0)).join(" ")}\n`
    )
  }
  const base = median(results.get("core") ?? [])
  process.stdout.write(
    `traced − core per pair: median ${median(differences).toFixed(1)} µs (${differences.map((d) => d.toFixed(0)).join(" ")}); ratio of medians ${(median(results.get("core (traced)") ?? []) / base).toFixed(2)}\n`
  )
  process.stdout.write(
    `traced calls ${tracedCalls}, spans exported ${exported}, dropped ${dropped}${exported + dropped === tracedCalls ? " (all accounted for)" : " — SPANS MISSING"}\n`
  )
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
