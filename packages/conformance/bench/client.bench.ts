/**
 * Client benchmark: the core client, as users run it (retry schedule, attempt timeout, span,
 * metrics and Schema decoding all on), against `undici.request` (the floor for Node), global
 * `fetch` and `openapi-fetch` (a peer typed client). Every contender makes the same call —
 * `GET /purchase/info?order_id=N` with bearer auth, 200 with the order's items — against two
 * servers, each in its own process (pinned to CPU 0 when `taskset` exists; this process to CPU 1):
 *
 *  1. the floor server (`@hlconnect/conformance`'s `dist/bench/floor.js`): a canned `node:http` responder with the
 *     sandbox's body, so cheap that the client, not the server, is what is measured. The targets
 *     are judged here, as ratios against undici.request in the same run, unless the floor server
 *     itself saturated (≥ 90 % of its CPU): then nothing is judged.
 *  2. the sandbox, the realistic server: a second table, for information.
 *
 *   cd packages/conformance && pnpm bench        (≈ 3 minutes on a quiet machine)
 *   BENCH_ROUNDS=1 for a quick look; BENCH_SERVER_PROFILE_DIR=/tmp/prof writes both servers'
 *   `--cpu-prof` profiles there.
 *
 * Contenders run interleaved in rounds, each in turn (the order rotates per round), so machine
 * noise hits all of them alike. Per round and contender: p50/p99 latency with 1 request in
 * flight, then req/s, client CPU per request and the server's CPU share with 64 in flight.
 * Latency samples are pooled over the rounds; the rest is the median of the rounds. It is a
 * report, not a test: it exits 0 whether the targets pass or not.
 */
import {
  cpuMeter,
  pinThisProcess,
  type ServerProcess,
  serverScripts,
  median,
  startOtlpSink,
  startServerProcess
} from "../src/bench/index.js"
import { loadavg } from "node:os"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { HlConnect } from "@hlconnect/core"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import createClient from "openapi-fetch"
import { request } from "undici"
import type { paths } from "./hlconnect-openapi.js"

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
/** When set, the servers run with `--cpu-prof` and write their profiles into this directory on exit. */
const SERVER_PROFILE_DIR = process.env.BENCH_SERVER_PROFILE_DIR
const LATENCY_REQUESTS = 1500
/** A latency phase stops early past this, so a busy machine cannot stretch the run. */
const LATENCY_MAX_MS = 2500
const WARMUP_REQUESTS = 300
const CONCURRENCY = 64
const THROUGHPUT_RAMP_MS = 300
const THROUGHPUT_WINDOW_MS = 2000
const ORDERS = 8
const TOKEN = "bench-token"

// ---------------------------------------------------------------------------------------------
// Machine: the servers in child processes, CPU pinning, forced GC between phases

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** A server at or above this share of its CPU caps req/s itself: its table judges nothing. */
const SATURATED = 0.9

const startServer = (script: string, env: Readonly<Record<string, string>>): Promise<ServerProcess> =>
  startServerProcess({
    script,
    env,
    cpu: 0,
    ...(SERVER_PROFILE_DIR === undefined ? {} : { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${SERVER_PROFILE_DIR}`] })
  })

setFlagsFromString("--expose-gc")
const exposedGc: unknown = runInNewContext("gc")
const collectGarbage = () => {
  if (typeof exposedGc === "function") exposedGc()
}

// ---------------------------------------------------------------------------------------------
// Contenders: each resolves to the number of items of the order, or throws

interface Contender {
  readonly name: string
  readonly call: (orderId: number) => Promise<number>
}

const itemCount = (status: number, body: unknown): number => {
  if (status !== 200 || !Array.isArray(body)) throw new Error(`unexpected answer: ${status}`)
  return body.length
}

const makeContenders = async (url: string) => {
  const headers = { accept: "application/json", authorization: `Bearer ${TOKEN}` }

  const undiciRequest: Contender = {
    name: "undici.request",
    call: async (orderId) => {
      const response = await request(`${url}/purchase/info?order_id=${orderId}`, { headers })
      return itemCount(response.statusCode, await response.body.json())
    }
  }

  const globalFetch: Contender = {
    name: "fetch",
    call: async (orderId) => {
      const response = await fetch(`${url}/purchase/info?order_id=${orderId}`, { headers })
      return itemCount(response.status, await response.json())
    }
  }

  const api = createClient<paths>({ baseUrl: url, headers })
  const openapiFetch: Contender = {
    name: "openapi-fetch",
    call: async (orderId) => {
      const { data, response } = await api.GET("/purchase/info", { params: { query: { order_id: String(orderId) } } })
      return itemCount(response.status, data)
    }
  }

  const options = { baseUrl: url, accessToken: Redacted.make(TOKEN) }
  const coreRuntime = ManagedRuntime.make(HlConnect.Default(options))
  const coreClient = await coreRuntime.runPromise(HlConnect)
  const tracerOffRuntime = ManagedRuntime.make(Layer.merge(HlConnect.Default(options), Layer.setTracerEnabled(false)))
  const tracerOffClient = await tracerOffRuntime.runPromise(HlConnect)
  // Spans exported: the batch exporter posting OTLP protobuf to a local receiver that accepts everything.
  const sink = await startOtlpSink()
  const tracing = sink.tracing("http/protobuf")
  const tracedRuntime = ManagedRuntime.make(Layer.merge(HlConnect.Default(options), tracing))
  const tracedClient = await tracedRuntime.runPromise(HlConnect)
  const core = (name: string, runtime: typeof coreRuntime, client: HlConnect): Contender => ({
    name,
    call: async (orderId) => {
      const items = await runtime.runPromise(
        Effect.map(client.purchaseInfo({ order_id: orderId }), (outcome) =>
          outcome._tag === "Completed" ? outcome.items.length : -1
        )
      )
      if (items < 0) throw new Error("core: order not completed")
      return items
    }
  })

  return {
    contenders: [
      undiciRequest,
      globalFetch,
      openapiFetch,
      core("core", coreRuntime, coreClient),
      core("core (tracer off)", tracerOffRuntime, tracerOffClient),
      core("core (traced)", tracedRuntime, tracedClient)
    ],
    /** Registers the orders the calls read, through the core client. */
    registerOrders: async (): Promise<ReadonlyArray<number>> => {
      const ids: Array<number> = []
      for (let i = 0; i < ORDERS; i++) {
        const orderId = 910_001 + i
        await coreRuntime.runPromise(
          Effect.flatMap(
            coreClient.validatePurchase({ asset_id: 4000, customer_ip: "203.0.113.7", quantity: 1 }),
            (token) =>
              coreClient.registerPurchase({
                token: token.token,
                order_number: orderId,
                order_line_id: 1,
                line_item_price: 3.99,
                unit_price: 3.99,
                customer: "Bench Customer"
              })
          )
        )
        ids.push(orderId)
      }
      return ids
    },
    close: () =>
      Promise.all([coreRuntime.dispose(), tracerOffRuntime.dispose(), tracedRuntime.dispose().then(sink.close)])
  }
}

// ---------------------------------------------------------------------------------------------
// Phases

const latencyPhase = async (
  contender: Contender,
  orderIds: ReadonlyArray<number>,
  count: number
): Promise<Float64Array> => {
  const samples = new Float64Array(count)
  const deadline = performance.now() + LATENCY_MAX_MS
  let i = 0
  for (; i < count; i++) {
    const started = performance.now()
    await contender.call(orderIds[i % orderIds.length] ?? 1)
    const finished = performance.now()
    samples[i] = (finished - started) * 1000
    if (finished > deadline) {
      i++
      break
    }
  }
  return samples.subarray(0, i)
}

interface ThroughputResult {
  readonly requestsPerSecond: number
  readonly cpuMicrosPerRequest: number
  /** Share of one CPU the server used during the window, when readable. */
  readonly serverCpuShare: number | undefined
}

const throughputPhase = async (
  contender: Contender,
  orderIds: ReadonlyArray<number>,
  serverPid: number | undefined,
  rampMillis: number,
  windowMillis: number
): Promise<ThroughputResult> => {
  let completed = 0
  let stop = false
  const worker = async (offset: number) => {
    let i = offset
    while (!stop) {
      await contender.call(orderIds[i++ % orderIds.length] ?? 1)
      completed++
    }
  }
  const workers = Array.from({ length: CONCURRENCY }, (_, i) => worker(i))
  await sleep(rampMillis)
  const startCount = completed
  const startCpu = process.cpuUsage()
  const server = cpuMeter(serverPid)
  const started = performance.now()
  await sleep(windowMillis)
  const elapsedMillis = performance.now() - started
  const requests = completed - startCount
  const cpu = process.cpuUsage(startCpu)
  const serverCpuShare = server.share()
  stop = true
  await Promise.all(workers)
  return {
    requestsPerSecond: (requests * 1000) / elapsedMillis,
    cpuMicrosPerRequest: (cpu.user + cpu.system) / requests,
    serverCpuShare
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN

interface Summary {
  readonly name: string
  readonly p50: number
  readonly p99: number
  readonly requestsPerSecond: number
  readonly cpuMicrosPerRequest: number
  /** Median over the rounds. */
  readonly serverCpuShare: number | undefined
  /** The highest of the rounds: one saturated window is enough to doubt the row. */
  readonly serverCpuShareMax: number | undefined
}

const pad = (text: string, width: number) => text.padStart(width)
const fixed = (value: number, digits = 0) => value.toFixed(digits)
const percent = (share: number | undefined) => (share === undefined ? "n/a" : `${fixed(share * 100)}%`)

/** Every contender against one server: warm-up, then interleaved rounds. */
const measure = async (
  server: ServerProcess,
  contenders: ReadonlyArray<Contender>,
  orderIds: ReadonlyArray<number>
) => {
  const pid = server.child.pid
  // Warm-up (and a check that every contender gets the same answer).
  const expected = await contenders[0]?.call(orderIds[0] ?? 1)
  for (const contender of contenders) {
    const items = await contender.call(orderIds[0] ?? 1)
    if (items !== expected || items === 0) throw new Error(`${contender.name}: ${items} items, expected ${expected}`)
    await latencyPhase(contender, orderIds, WARMUP_REQUESTS)
    await throughputPhase(contender, orderIds, pid, 100, 700)
  }

  const latencies = new Map<string, Array<Float64Array>>()
  const throughputs = new Map<string, Array<ThroughputResult>>()
  for (let round = 0; round < ROUNDS; round++) {
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]).filter((c) => c !== undefined)
    for (const contender of order) {
      collectGarbage()
      await latencyPhase(contender, orderIds, 100)
      const samples = await latencyPhase(contender, orderIds, LATENCY_REQUESTS)
      latencies.set(contender.name, [...(latencies.get(contender.name) ?? []), samples])
      collectGarbage()
      const throughput = await throughputPhase(contender, orderIds, pid, THROUGHPUT_RAMP_MS, THROUGHPUT_WINDOW_MS)
      throughputs.set(contender.name, [...(throughputs.get(contender.name) ?? []), throughput])
    }
    process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`)
  }

  const summaries: Array<Summary> = contenders.map((contender) => {
    const pooled = Float64Array.from(
      (latencies.get(contender.name) ?? []).flatMap((samples) => Array.from(samples))
    ).sort()
    const rounds = throughputs.get(contender.name) ?? []
    const shares = rounds.flatMap((r) => (r.serverCpuShare === undefined ? [] : [r.serverCpuShare]))
    return {
      name: contender.name,
      p50: percentile(pooled, 0.5),
      p99: percentile(pooled, 0.99),
      requestsPerSecond: median(rounds.map((r) => r.requestsPerSecond)),
      cpuMicrosPerRequest: median(rounds.map((r) => r.cpuMicrosPerRequest)),
      serverCpuShare: shares.length === 0 ? undefined : median(shares),
      serverCpuShareMax: shares.length === 0 ? undefined : Math.max(...shares)
    }
  })
  return { expected, summaries }
}

/** One server's table, then the targets judged on it (or why they cannot be). */
const report = (title: string, summaries: ReadonlyArray<Summary>) => {
  const byName = (name: string) => summaries.find((s) => s.name === name)
  const fetchRow = byName("fetch")
  const undiciRow = byName("undici.request")
  const coreRow = byName("core")
  if (fetchRow === undefined || undiciRow === undefined || coreRow === undefined) throw new Error("missing a contender")

  console.log("")
  console.log(title)
  console.log("")
  const header = [
    "contender".padEnd(18),
    pad("p50 µs", 8),
    pad("p99 µs", 8),
    pad("req/s", 7),
    pad("CPU µs/req", 11),
    pad("srv CPU", 8),
    pad("srv max", 8),
    pad("srv µs/req", 11),
    pad("×undici req/s", 14),
    pad("×undici p50", 12),
    pad("×undici CPU", 12),
    pad("×fetch req/s", 13),
    pad("×fetch p50", 11)
  ].join(" ")
  console.log(header)
  console.log("-".repeat(header.length))
  for (const s of summaries) {
    console.log(
      [
        s.name.padEnd(18),
        pad(fixed(s.p50), 8),
        pad(fixed(s.p99), 8),
        pad(fixed(s.requestsPerSecond), 7),
        pad(fixed(s.cpuMicrosPerRequest), 11),
        pad(percent(s.serverCpuShare), 8),
        pad(percent(s.serverCpuShareMax), 8),
        pad(s.serverCpuShare === undefined ? "n/a" : fixed((s.serverCpuShare * 1_000_000) / s.requestsPerSecond), 11),
        pad(fixed(s.requestsPerSecond / undiciRow.requestsPerSecond, 2), 14),
        pad(fixed(s.p50 / undiciRow.p50, 2), 12),
        pad(fixed(s.cpuMicrosPerRequest / undiciRow.cpuMicrosPerRequest, 2), 12),
        pad(fixed(s.requestsPerSecond / fetchRow.requestsPerSecond, 2), 13),
        pad(fixed(s.p50 / fetchRow.p50, 2), 11)
      ].join(" ")
    )
  }
  console.log("")
  // A server that saturated in any contender's window capped that contender: the ratios compare
  // the server with itself, so no target is judged.
  const saturated = summaries.filter((s) => (s.serverCpuShareMax ?? 0) >= SATURATED)
  const unreadable = summaries.some((s) => s.serverCpuShareMax === undefined)
  const cannotJudge = saturated.length > 0 || unreadable
  if (saturated.length > 0) {
    console.log(
      `server saturated (≥ ${fixed(SATURATED * 100)}% of its CPU) under ${saturated.map((s) => `${s.name} (${percent(s.serverCpuShareMax)})`).join(", ")}: it, not the client, capped req/s — cannot judge`
    )
  } else if (unreadable) {
    console.log("server CPU share unreadable (no /proc): saturation unknown — cannot judge")
  } else {
    console.log(
      `server below ${fixed(SATURATED * 100)}% of its CPU in every window (highest ${percent(Math.max(...summaries.map((s) => s.serverCpuShareMax ?? 0)))}): the clients are measured`
    )
  }
  const verdict = (ok: boolean) => (cannotJudge ? "CANNOT JUDGE" : ok ? "PASS" : "FAIL").padEnd(12)
  const throughputRatio = coreRow.requestsPerSecond / undiciRow.requestsPerSecond
  const p50Ratio = coreRow.p50 / undiciRow.p50
  console.log(
    `${verdict(throughputRatio >= 0.5)}  core throughput ≥ 0.5× undici.request   (${fixed(throughputRatio, 2)}×)`
  )
  console.log(`${verdict(p50Ratio <= 1.3)}  core p50 ≤ 1.3× undici.request          (${fixed(p50Ratio, 2)}×)`)
  console.log(
    `${verdict(coreRow.requestsPerSecond >= fetchRow.requestsPerSecond)}  core throughput ≥ fetch                 (${fixed(coreRow.requestsPerSecond / fetchRow.requestsPerSecond, 2)}×)`
  )
  console.log(
    `${verdict(coreRow.p50 <= fetchRow.p50)}  core p50 ≤ fetch                        (${fixed(coreRow.p50 / fetchRow.p50, 2)}×)`
  )
}

const main = async () => {
  const benchStarted = performance.now()
  const loadAtStart = loadavg()[0] ?? Number.NaN
  const pinned = pinThisProcess(1)
  const env = { SANDBOX_TOKENS: TOKEN }
  const floor = await startServer(serverScripts.floor, env)
  const sandbox = await startServer(serverScripts.sandbox, {
    ...env,
    SANDBOX_FULFILMENT_DELAY: "0 millis",
    LOG_LEVEL: "warn"
  })
  const onFloor = await makeContenders(floor.url)
  const onSandbox = await makeContenders(sandbox.url)
  try {
    const orderIds = await onSandbox.registerOrders()
    process.stdout.write("floor server:\n")
    const floorRun = await measure(floor, onFloor.contenders, orderIds)
    process.stdout.write("sandbox:\n")
    const sandboxRun = await measure(sandbox, onSandbox.contenders, orderIds)

    const where =
      pinned && floor.pinned && sandbox.pinned ? "server pinned to CPU 0, client to CPU 1" : "unpinned (no taskset)"
    console.log("")
    console.log(
      `GET /purchase/info (200, ${floorRun.expected} item(s)), each server in its own process, ${where}, Node ${process.version}`
    )
    console.log(
      `${ROUNDS} interleaved rounds per server; latency: up to ${LATENCY_REQUESTS} requests (${LATENCY_MAX_MS} ms)/round at 1 in flight, pooled; throughput: ${THROUGHPUT_WINDOW_MS} ms/round at ${CONCURRENCY} in flight, median; load average at start ${fixed(loadAtStart, 1)}`
    )
    report("1. floor server (canned node:http responder): the targets are judged here", floorRun.summaries)
    report("2. sandbox (the realistic server): for information; judged the same way", sandboxRun.summaries)
    console.log("")
    console.log("Notes:")
    console.log(
      "- core: HlConnect.purchaseInfo as users run it (retry schedule, attempt timeout, span, metrics, Schema decoding on), runPromise per call."
    )
    console.log("- core (tracer off): the same with Layer.setTracerEnabled(false); for information only.")
    console.log(
      "- core (traced): the same with every span exported (OTLP/HTTP protobuf, batched) to a local receiver; its cost per call is the difference to the core row."
    )
    console.log("- undici.request / fetch: plain calls, bearer header, JSON parse; no validation (baselines).")
    console.log(
      "- openapi-fetch: typed by bench/hlconnect-openapi.d.ts; it parses JSON but does not validate it (by design)."
    )
    console.log(
      "- CPU µs/req: the client's own CPU. srv CPU / srv max: the server's share of one CPU during the throughput"
    )
    console.log(
      `  windows, median and highest; at ≥ ${fixed(SATURATED * 100)}% the server caps req/s and that table judges nothing.`
    )
    console.log("  srv µs/req: the server's CPU per request (median share ÷ req/s).")
    console.log("")
    console.log(`bench took ${fixed((performance.now() - benchStarted) / 1000, 1)} s`)
  } finally {
    await Promise.all([onFloor.close(), onSandbox.close()])
    floor.stop()
    sandbox.stop()
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
