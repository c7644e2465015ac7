/**
 * Client benchmark: the core client, as users run it (retry schedule, attempt timeout, span,
 * metrics and Schema decoding all on), against `undici.request` (the floor for Node), global
 * `fetch` and `openapi-fetch` (a peer typed client). Every contender makes the same call —
 * `GET /purchase/info?order_id=N` with bearer auth, 200 with the order's items — against the
 * sandbox on loopback, running in its own process (pinned to CPU 0 when `taskset` exists; this
 * process to CPU 1).
 *
 *   cd packages/conformance && pnpm bench        (≈ 1.5 minutes on a quiet machine)
 *
 * Contenders run interleaved in rounds, each in turn (the order rotates per round), so machine
 * noise hits all of them alike. Per round and contender: p50/p99 latency with 1 request in
 * flight, then req/s and client CPU per request with 64 in flight. Latency samples are pooled
 * over the rounds; req/s and CPU are the median of the rounds. It is a report, not a test: it
 * exits 0 whether the targets pass or not.
 */
import { freePort } from "@hlconnect/sandbox"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { HlConnect } from "@hlconnect/core"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import createClient from "openapi-fetch"
import { request } from "undici"
import type { paths } from "./hlconnect-openapi.js"

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
/** When set, the server runs with `--cpu-prof` and writes its profile into this directory on exit. */
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
// Machine: the sandbox in a child process, CPU pinning, forced GC between phases

const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()


const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

const startSandboxProcess = async (): Promise<{ readonly url: string; readonly child: ChildProcess }> => {
  const port = await freePort()
  const main = fileURLToPath(new URL("../../sandbox/dist/main.js", import.meta.url))
  const env = {
    ...process.env,
    PORT: String(port),
    SANDBOX_TOKENS: TOKEN,
    SANDBOX_FULFILMENT_DELAY: "0 millis",
    LOG_LEVEL: "warn"
  }
  const nodeArgs = [...(SERVER_PROFILE_DIR === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${SERVER_PROFILE_DIR}`]), main]
  const child = hasTaskset
    ? spawn("taskset", ["-c", "0", process.execPath, ...nodeArgs], { env, stdio: ["ignore", "ignore", "inherit"] })
    : spawn(process.execPath, nodeArgs, { env, stdio: ["ignore", "ignore", "inherit"] })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`sandbox exited with ${child.exitCode}`)
    try {
      const response = await fetch(`${url}/health/live`)
      await response.arrayBuffer()
      if (response.ok) return { url, child }
    } catch {
      // not listening yet
    }
    await sleep(50)
  }
  child.kill()
  throw new Error("sandbox did not become live within 10 s")
}

/** utime + stime of a process in µs, from /proc (Linux); undefined elsewhere. */
const processCpuMicros = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // Fields after the command: state is [0], utime [11], stime [12], in clock ticks (100 Hz).
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100
  } catch {
    return undefined
  }
}

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
  const core = (name: string, runtime: typeof coreRuntime, client: HlConnect): Contender => ({
    name,
    call: async (orderId) => {
      const items = await runtime.runPromise(
        Effect.map(client.purchaseInfo({ order_id: orderId }), (outcome) => (outcome._tag === "Completed" ? outcome.items.length : -1))
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
      core("core (tracer off)", tracerOffRuntime, tracerOffClient)
    ],
    /** Registers the orders the calls read, through the core client. */
    registerOrders: async (): Promise<ReadonlyArray<number>> => {
      const ids: Array<number> = []
      for (let i = 0; i < ORDERS; i++) {
        const orderId = 910_001 + i
        await coreRuntime.runPromise(
          Effect.flatMap(coreClient.validatePurchase({ asset_id: 4000, customer_ip: "203.0.113.7", quantity: 1 }), (token) =>
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
    close: () => Promise.all([coreRuntime.dispose(), tracerOffRuntime.dispose()])
  }
}

// ---------------------------------------------------------------------------------------------
// Phases

const latencyPhase = async (contender: Contender, orderIds: ReadonlyArray<number>, count: number): Promise<Float64Array> => {
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
  /** Share of one CPU the sandbox used during the window, when readable. */
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
  const startServerCpu = processCpuMicros(serverPid)
  const started = performance.now()
  await sleep(windowMillis)
  const elapsedMillis = performance.now() - started
  const requests = completed - startCount
  const cpu = process.cpuUsage(startCpu)
  const endServerCpu = processCpuMicros(serverPid)
  stop = true
  await Promise.all(workers)
  return {
    requestsPerSecond: (requests * 1000) / elapsedMillis,
    cpuMicrosPerRequest: (cpu.user + cpu.system) / requests,
    serverCpuShare:
      startServerCpu === undefined || endServerCpu === undefined
        ? undefined
        : (endServerCpu - startServerCpu) / (elapsedMillis * 1000)
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2
}

interface Summary {
  readonly name: string
  readonly p50: number
  readonly p99: number
  readonly requestsPerSecond: number
  readonly cpuMicrosPerRequest: number
  readonly serverCpuShare: number | undefined
}

const pad = (text: string, width: number) => text.padStart(width)
const fixed = (value: number, digits = 0) => value.toFixed(digits)

const main = async () => {
  const benchStarted = performance.now()
  if (hasTaskset) execFileSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" })
  const { url, child } = await startSandboxProcess()
  const { contenders, registerOrders, close } = await makeContenders(url)
  try {
    const orderIds = await registerOrders()

    // Warm-up (and a check that every contender gets the same answer).
    const expected = await contenders[0]?.call(orderIds[0] ?? 1)
    for (const contender of contenders) {
      const items = await contender.call(orderIds[0] ?? 1)
      if (items !== expected || items === 0) throw new Error(`${contender.name}: ${items} items, expected ${expected}`)
      await latencyPhase(contender, orderIds, WARMUP_REQUESTS)
      await throughputPhase(contender, orderIds, child.pid, 100, 700)
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
        const throughput = await throughputPhase(contender, orderIds, child.pid, THROUGHPUT_RAMP_MS, THROUGHPUT_WINDOW_MS)
        throughputs.set(contender.name, [...(throughputs.get(contender.name) ?? []), throughput])
      }
      process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`)
    }

    const summaries: Array<Summary> = contenders.map((contender) => {
      const pooled = Float64Array.from((latencies.get(contender.name) ?? []).flatMap((samples) => Array.from(samples))).sort()
      const rounds = throughputs.get(contender.name) ?? []
      const shares = rounds.flatMap((r) => (r.serverCpuShare === undefined ? [] : [r.serverCpuShare]))
      return {
        name: contender.name,
        p50: percentile(pooled, 0.5),
        p99: percentile(pooled, 0.99),
        requestsPerSecond: median(rounds.map((r) => r.requestsPerSecond)),
        cpuMicrosPerRequest: median(rounds.map((r) => r.cpuMicrosPerRequest)),
        serverCpuShare: shares.length === 0 ? undefined : median(shares)
      }
    })

    const byName = (name: string) => summaries.find((s) => s.name === name)
    const fetchRow = byName("fetch")
    const undiciRow = byName("undici.request")
    const coreRow = byName("core")
    const peerRow = byName("openapi-fetch")
    if (fetchRow === undefined || undiciRow === undefined || coreRow === undefined || peerRow === undefined) {
      throw new Error("missing a contender")
    }

    console.log("")
    console.log(
      `GET /purchase/info (200, ${expected} item(s)), sandbox in its own process${hasTaskset ? " (server CPU 0, client CPU 1)" : ""}, Node ${process.version}`
    )
    console.log(
      `${ROUNDS} interleaved rounds; latency: up to ${LATENCY_REQUESTS} requests (${LATENCY_MAX_MS} ms)/round at 1 in flight, pooled; throughput: ${THROUGHPUT_WINDOW_MS} ms/round at ${CONCURRENCY} in flight, median; load average at start ${loadavg()[0]?.toFixed(1)}`
    )
    console.log("")
    const header = [
      "contender".padEnd(18),
      pad("p50 µs", 8),
      pad("p99 µs", 8),
      pad("req/s", 7),
      pad("CPU µs/req", 11),
      pad("srv CPU", 8),
      pad("×fetch req/s", 13),
      pad("×fetch p50", 11),
      pad("×fetch CPU", 11),
      pad("×undici req/s", 14),
      pad("×undici p50", 12),
      pad("×undici CPU", 12)
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
          pad(s.serverCpuShare === undefined ? "n/a" : `${fixed(s.serverCpuShare * 100)}%`, 8),
          pad(fixed(s.requestsPerSecond / fetchRow.requestsPerSecond, 2), 13),
          pad(fixed(s.p50 / fetchRow.p50, 2), 11),
          pad(fixed(s.cpuMicrosPerRequest / fetchRow.cpuMicrosPerRequest, 2), 11),
          pad(fixed(s.requestsPerSecond / undiciRow.requestsPerSecond, 2), 14),
          pad(fixed(s.p50 / undiciRow.p50, 2), 12),
          pad(fixed(s.cpuMicrosPerRequest / undiciRow.cpuMicrosPerRequest, 2), 12)
        ].join(" ")
      )
    }
    console.log("")
    console.log("Notes:")
    console.log("- core: HlConnect.purchaseInfo as users run it (retry schedule, attempt timeout, span, metrics, Schema decoding on), runPromise per call.")
    console.log("- core (tracer off): the same with Layer.setTracerEnabled(false); for information only.")
    console.log("- undici.request / fetch: plain calls, bearer header, JSON parse; no validation (baselines).")
    console.log("- openapi-fetch: typed by bench/hlconnect-openapi.d.ts; it parses JSON but does not validate it (by design).")
    console.log("- srv CPU: the sandbox's share of one CPU during the window; near 100% the server, not the client, caps req/s,")
    console.log("  so compare CPU µs/req (the client's own cost) there.")
    console.log("")
    const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL")
    const throughputRatio = coreRow.requestsPerSecond / fetchRow.requestsPerSecond
    const p50Ratio = coreRow.p50 / fetchRow.p50
    console.log(`${verdict(throughputRatio >= 1)}  core throughput ≥ 1.0× fetch   (${fixed(throughputRatio, 2)}×)`)
    console.log(`${verdict(p50Ratio <= 1.2)}  core p50 ≤ 1.2× fetch          (${fixed(p50Ratio, 2)}×)`)
    const aheadOfPeer = coreRow.requestsPerSecond > peerRow.requestsPerSecond && coreRow.p50 < peerRow.p50
    console.log(
      `${verdict(aheadOfPeer)}  core ahead of openapi-fetch (throughput and p50)   (req/s ${fixed(coreRow.requestsPerSecond / peerRow.requestsPerSecond, 2)}×, p50 ${fixed(coreRow.p50 / peerRow.p50, 2)}×)`
    )
    console.log("")
    console.log(`bench took ${fixed((performance.now() - benchStarted) / 1000, 1)} s`)
  } finally {
    await close()
    child.kill("SIGTERM")
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
