/**
 * `pnpm bench`: inbound events verified and durably stored per second, next to a bare `node:http`
 * server (reads the body, answers 204) in the same run; ack latency p50/p99 at 1 and 50
 * connections; inbound-to-registered lag p99.
 *
 * - The load generator is a worker_thread (`loadgen.ts`: raw keep-alive sockets writing
 *   pre-built requests), so it does not share the server's event loop. Every request is signed
 *   before the clock starts.
 * - Throughput rows: the relay with workers off (ingest only: verify → decode → group commit →
 *   2xx), on SQLite (WAL, synchronous=FULL, worker-thread writer) and on PostgreSQL
 *   (synchronous_commit=on, a throw-away schema) when DATABASE_URL is set. Each relay row is
 *   measured right after its own bare-server run, and its ratio is against that run (the machine
 *   may be shared; adjacent runs compare best).
 * - Lag: a relay with its workers on and a sandbox that fulfils at once; N signed `order.paid`
 *   events with real validation tokens at a steady rate; per order, POST ack → registration seen
 *   at the sandbox.
 *
 * Env: BENCH_SECONDS (3), BENCH_WARMUP (1), BENCH_LATENCY_SECONDS (1.5), BENCH_CONNECTIONS (50),
 * BENCH_EVENTS (per relay row, 60000), BENCH_LAG_ORDERS (300), BENCH_LAG_RATE (100/s), DATABASE_URL.
 */
import { HttpServer } from "@effect/platform"
import { SqlClient } from "@effect/sql/SqlClient"
import { HlConnect } from "@hlconnect/core"
import { defaultPolicy, Fulfilment } from "@hlconnect/fulfilment"
import { clientLayer, startSandbox, type RunningSandbox } from "@hlconnect/sandbox"
import { Health, HttpServing } from "@hlconnect/service"
import { Store } from "@hlconnect/store"
import { Duration, Effect, Either, Layer, Logger, LogLevel, ManagedRuntime, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtemp, rm } from "node:fs/promises"
import { Agent, createServer, request } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Worker } from "node:worker_threads"
import * as Relay from "../src/Relay.js"
import * as RelayConfig from "../src/RelayConfig.js"
import { decodeSecret, signedHeaders } from "../src/Signature.js"
import type { RunResult } from "./loadgen.js"

const envNumber = (name: string, fallback: number) => {
  const n = Number(process.env[name] ?? "")
  return Number.isFinite(n) && n > 0 ? n : fallback
}
const seconds = envNumber("BENCH_SECONDS", 3)
const warmupSeconds = envNumber("BENCH_WARMUP", 1)
const latencySeconds = envNumber("BENCH_LATENCY_SECONDS", 1.5)
const connections = envNumber("BENCH_CONNECTIONS", 50)
const eventsPerRow = envNumber("BENCH_EVENTS", 60_000)
const lagOrders = envNumber("BENCH_LAG_ORDERS", 300)
const lagRate = envNumber("BENCH_LAG_RATE", 100)
const databaseUrl = process.env.DATABASE_URL === "" ? undefined : process.env.DATABASE_URL

const secret = `whsec_${randomBytes(24).toString("base64")}`
const key = Either.getOrThrow(decodeSecret(Redacted.make(secret)))
const path = Relay.ingestPath

// ---------------------------------------------------------------------------------------------
// Requests, signed up front

let orderBase = 1_000_000 + (Math.floor(Date.now() / 1000) % 100_000) * 100

const paidBody = (orderNumber: number, token: string) =>
  JSON.stringify({
    type: "order.paid",
    data: {
      order_number: orderNumber,
      customer: { name: "Bench Customer", email: "bench@example.com" },
      lines: [{ order_line_id: 1, asset_id: 4000, quantity: 1, unit_price: "3.99", line_price: "3.99", validation_token: token }]
    }
  })

const signed = (id: string, body: string): Record<string, string> => ({
  "content-type": "application/json",
  ...signedHeaders([key], id, Math.floor(Date.now() / 1000), body)
})

/** A complete HTTP/1.1 request, bytes ready to write. */
const rawRequest = (id: string, body: string) => {
  const headers = Object.entries(signed(id, body))
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")
  return `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body}`
}

/** Unique event ids and order numbers (the relay would answer a repeated id as a duplicate). */
const makeRequests = (n: number) => {
  const prefix = `bench-${randomBytes(4).toString("hex")}`
  const token = randomBytes(24).toString("hex")
  const base = orderBase
  orderBase += n
  return Array.from({ length: n }, (_, i) => rawRequest(`${prefix}-${i}`, paidBody(base + i, token)))
}

// ---------------------------------------------------------------------------------------------
// The load generator (worker thread)

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null

const toRunResult = (v: unknown): RunResult | undefined => {
  if (!isRecord(v)) return undefined
  const { ok, failed, statuses, elapsedMs, next, exhausted, latencies } = v
  if (typeof ok !== "number" || typeof failed !== "number" || typeof elapsedMs !== "number" || typeof next !== "number") return undefined
  if (typeof exhausted !== "boolean" || !(latencies instanceof Float64Array) || !isRecord(statuses)) return undefined
  const counts: Record<string, number> = {}
  for (const [k, c] of Object.entries(statuses)) if (typeof c === "number") counts[k] = c
  return { ok, failed, statuses: counts, elapsedMs, next, exhausted, latencies }
}

/** `loadgen.ts` in a worker: tsx's hooks are not inherited by workers, so it is registered there first. */
const startGenerator = async () => {
  const api = JSON.stringify(import.meta.resolve("tsx/esm/api"))
  const entry = JSON.stringify(new URL("./loadgen.ts", import.meta.url).href)
  const worker = new Worker(`import(${api}).then((tsx) => { tsx.register(); return import(${entry}) })`, { eval: true })
  const reply = (tag: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const onMessage = (m: unknown) => {
        if (!isRecord(m) || m._tag !== tag) return
        worker.off("message", onMessage)
        worker.off("error", reject)
        resolve(m)
      }
      worker.on("message", onMessage)
      worker.once("error", reject)
    })
  await reply("ready")
  return {
    load: async (requests: ReadonlyArray<string>) => {
      const loaded = reply("loaded")
      worker.postMessage({ _tag: "load", requests })
      await loaded
    },
    run: async (options: { port: number; connections: number; seconds: number; from: number; cycle: boolean }): Promise<RunResult> => {
      const answered = reply("result")
      worker.postMessage({ _tag: "run", ...options })
      const result = toRunResult((await answered).result)
      if (result === undefined) throw new Error("load generator: malformed result")
      return result
    },
    close: () => worker.terminate()
  }
}
type Generator = Awaited<ReturnType<typeof startGenerator>>

// ---------------------------------------------------------------------------------------------
// Measuring one target

const quantile = (sorted: ArrayLike<number>, q: number) =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN)

interface Row {
  readonly rps: number
  readonly p50at50: number
  readonly p99at50: number
  readonly p50at1: number
  readonly p99at1: number
  readonly failed: number
  readonly statuses: Record<string, number>
  readonly exhausted: boolean
}

/** Warm-up (discarded, JIT) → throughput and latency at `connections` → latency at 1 connection. */
const measure = async (generator: Generator, port: number, cycle: boolean): Promise<Row> => {
  const warm = await generator.run({ port, connections, seconds: warmupSeconds, from: 0, cycle })
  const many = await generator.run({ port, connections, seconds, from: warm.next, cycle })
  const one = await generator.run({ port, connections: 1, seconds: latencySeconds, from: many.next, cycle })
  const statuses: Record<string, number> = {}
  for (const r of [warm, many, one]) for (const [k, c] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + c
  return {
    rps: many.ok / (many.elapsedMs / 1000),
    p50at50: quantile(many.latencies, 0.5),
    p99at50: quantile(many.latencies, 0.99),
    p50at1: quantile(one.latencies, 0.5),
    p99at1: quantile(one.latencies, 0.99),
    failed: warm.failed + many.failed + one.failed,
    statuses,
    exhausted: many.exhausted || one.exhausted
  }
}

const bare = async (generator: Generator, requests: ReadonlyArray<string>): Promise<Row> => {
  const server = createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      res.writeHead(204)
      res.end()
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  await generator.load(requests)
  const row = await measure(generator, port, true)
  server.closeAllConnections()
  await new Promise<void>((r) => server.close(() => r()))
  return row
}

const quiet = Logger.minimumLogLevel(LogLevel.Warning)

/** The relay (group commit, workers on or off) on the given store, HL Connect pointed at `sandbox`. */
const relayRuntime = (
  store: Layer.Layer<Store.StoreServices | SqlClient, unknown>,
  sandbox: RunningSandbox,
  workers: boolean
) =>
  ManagedRuntime.make(
    Relay.layer(RelayConfig.make({ webhookSecrets: [secret], timestampTolerance: Duration.minutes(5) }), { groupCommit: true, workers }).pipe(
      Layer.provideMerge(Layer.mergeAll(Fulfilment.Default(defaultPolicy), Health.Health.Default)),
      Layer.provideMerge(HttpServing.serverLayer({ port: 0, host: "127.0.0.1", shutdownGrace: Duration.seconds(1) })),
      Layer.provideMerge(clientLayer(sandbox)),
      Layer.provideMerge(store),
      Layer.provide(quiet)
    )
  )

const portOf = async (runtime: ReturnType<typeof relayRuntime>) => {
  const address = await runtime.runPromise(Effect.map(HttpServer.HttpServer, (s) => s.address))
  return address._tag === "TcpAddress" ? address.port : 0
}

const relayRow = async (
  generator: Generator,
  sandbox: RunningSandbox,
  store: Layer.Layer<Store.StoreServices | SqlClient, unknown>
): Promise<Row> => {
  const requests = makeRequests(eventsPerRow)
  const runtime = relayRuntime(store, sandbox, false)
  try {
    const port = await portOf(runtime)
    await generator.load(requests)
    return await measure(generator, port, false)
  } finally {
    await runtime.dispose()
  }
}

// ---------------------------------------------------------------------------------------------
// Inbound-to-registered lag

const lag = async () => {
  const sandbox = await startSandbox({ fulfilmentDelay: Duration.zero })
  const dir = await mkdtemp(join(tmpdir(), "relay-bench-lag-"))
  const runtime = relayRuntime(Store.layerSqlite({ filename: join(dir, "relay.db") }), sandbox, true)
  const agent = new Agent({ keepAlive: true, maxSockets: 256 }) // open loop: the schedule, not free sockets, paces the sends
  try {
    const port = await portOf(runtime)
    const tokens = await runtime.runPromise(
      Effect.flatMap(HlConnect, (hl) =>
        Effect.forEach(Array.from({ length: lagOrders }), () => hl.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 }), {
          concurrency: 8
        })
      )
    )
    const base = orderBase
    orderBase += lagOrders
    const prefix = `lag-${randomBytes(4).toString("hex")}`
    const posts = tokens.map((t, i) => {
      const body = paidBody(base + i, t.token)
      return { body, headers: { ...signed(`${prefix}-${i}`, body), "content-length": String(Buffer.byteLength(body)) } }
    })
    const ackAt = new Float64Array(lagOrders).fill(Number.NaN)
    const registeredAt = new Float64Array(lagOrders).fill(Number.NaN)
    const sentAt = new Float64Array(lagOrders).fill(Number.NaN)
    let rejected = 0
    const post = (i: number) => {
      const p = posts[i]
      if (p === undefined) return
      sentAt[i] = performance.now()
      const req = request({ agent, host: "127.0.0.1", port, path, method: "POST", headers: p.headers }, (res) => {
        res.resume()
        res.on("end", () => {
          ackAt[i] = performance.now()
          if (res.statusCode !== 202) rejected++
        })
      })
      req.on("error", () => rejected++)
      req.end(p.body)
    }
    // Steady rate: each send at its slot on the schedule, whatever the previous answers did.
    const started = performance.now()
    let sent = 0
    const sender = new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(lagOrders, Math.floor(((performance.now() - started) / 1000) * lagRate) + 1)
        while (sent < due) post(sent++)
        if (sent >= lagOrders) resolve()
        else setTimeout(tick, 1)
      }
      tick()
    })
    // Poll the sandbox's registrations (in process) every 2 ms until all are in or 20 s.
    let seen = 0
    const deadline = started + (lagOrders / lagRate) * 1000 + 20_000
    while (seen < lagOrders && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2))
      const registrations = (await sandbox.run(sandbox.state.stats)).registrations
      const now = performance.now()
      for (let i = 0; i < lagOrders; i++) {
        if (Number.isNaN(registeredAt[i] ?? Number.NaN) && (registrations[`${base + i}:1`] ?? 0) >= 1) {
          registeredAt[i] = now
          seen++
        }
      }
    }
    await sender
    const lags: Array<number> = []
    const acks: Array<number> = []
    let beforeAck = 0
    for (let i = 0; i < lagOrders; i++) {
      const a = ackAt[i] ?? Number.NaN
      const r = registeredAt[i] ?? Number.NaN
      const s = sentAt[i] ?? Number.NaN
      if (!Number.isNaN(a) && !Number.isNaN(s)) acks.push(a - s)
      if (Number.isNaN(a) || Number.isNaN(r)) continue
      // Registered before the sender had read the ack (same process, 1 ms polls): lag 0.
      if (r <= a) beforeAck++
      lags.push(Math.max(0, r - a))
    }
    const sorted = Float64Array.from(lags).sort()
    // A lag that grows from the first tenth of the orders to the last is a backlog: registration is slower than the send rate.
    const tenth = Math.max(1, Math.floor(lags.length / 10))
    const firstTenth = Float64Array.from(lags.slice(0, tenth)).sort()
    const lastTenth = Float64Array.from(lags.slice(-tenth)).sort()
    const ackSorted = Float64Array.from(acks).sort()
    const lastRegistered = Math.max(...Array.from(registeredAt).filter((x) => !Number.isNaN(x)))
    return {
      registered: seen,
      rejected,
      beforeAck,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: quantile(sorted, 1),
      firstTenthP50: quantile(firstTenth, 0.5),
      lastTenthP50: quantile(lastTenth, 0.5),
      ackP50: quantile(ackSorted, 0.5),
      ackP99: quantile(ackSorted, 0.99),
      registeredPerSecond: seen / ((lastRegistered - started) / 1000)
    }
  } finally {
    agent.destroy()
    await runtime.dispose()
    await sandbox.close()
    await rm(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------

const ms = (x: number) => (Number.isNaN(x) ? "    –" : x < 10 ? x.toFixed(2) : x.toFixed(1)).padStart(6)

const printRow = (label: string, row: Row, bareRps: number | undefined) => {
  const ratio = bareRps === undefined ? "" : `${(row.rps / bareRps).toFixed(2)}×`
  console.log(
    `  ${label.padEnd(34)} ${row.rps.toFixed(0).padStart(7)} ${ratio.padStart(6)}   ${ms(row.p50at1)} ${ms(row.p99at1)}   ${ms(row.p50at50)} ${ms(row.p99at50)}`
  )
  const unexpected = Object.entries(row.statuses).filter(([s]) => s !== "202" && s !== "204")
  if (row.failed > 0 || unexpected.length > 0) console.log(`    ! answers: ${JSON.stringify(row.statuses)}, failed: ${row.failed}`)
  if (row.exhausted) console.log(`    ! ran out of pre-signed requests (raise BENCH_EVENTS)`)
}

const main = async () => {
  const wallStart = performance.now()
  const generator = await startGenerator()
  // Only builds the throughput rows' layers: their workers are off, so it is never called.
  const sandbox = await startSandbox()
  try {
    const bareRequests = makeRequests(20_000)
    console.log(
      `ingest: load generator in a worker thread, pre-signed requests; throughput over ${seconds} s at ${connections} connections ` +
        `after ${warmupSeconds} s warm-up, latency also over ${latencySeconds} s at 1 connection`
    )
    console.log(`  ${"".padEnd(34)} ${"req/s".padStart(7)} ${"× bare".padStart(6)}   ${"p50@1".padStart(6)} ${"p99@1".padStart(6)}   ${`p50@${connections}`.padStart(6)} ${`p99@${connections}`.padStart(6)}  (ms)`)

    const bareSqlite = await bare(generator, bareRequests)
    printRow("bare node:http (read body, 204)", bareSqlite, undefined)
    const dir = await mkdtemp(join(tmpdir(), "relay-bench-"))
    let sqlite: Row
    try {
      sqlite = await relayRow(generator, sandbox, Store.layerSqlite({ filename: join(dir, "relay.db") }))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    printRow("relay, SQLite (sync=FULL, group)", sqlite, bareSqlite.rps)

    if (databaseUrl === undefined) {
      console.log("  relay, PostgreSQL                  skipped: DATABASE_URL unset")
    } else {
      const url = Redacted.make(databaseUrl)
      const schema = `relay_bench_${randomBytes(6).toString("hex")}`
      const barePg = await bare(generator, bareRequests)
      printRow("bare node:http (read body, 204)", barePg, undefined)
      try {
        const pg = await relayRow(generator, sandbox, Store.layerPg({ url, schema }))
        printRow("relay, PostgreSQL (sync commit on)", pg, barePg.rps)
      } catch (error) {
        console.log(`  relay, PostgreSQL                  failed: ${String(error)}`)
      } finally {
        await Effect.runPromise(
          Effect.flatMap(SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`).pipe(
            Effect.provide(Store.pgClient({ url })),
            Effect.catchAll((e) => Effect.sync(() => console.log(`    ! could not drop schema ${schema}: ${e.message}`)))
          )
        )
      }
    }

    const ratio = sqlite.rps / bareSqlite.rps
    console.log(`  ${ratio >= 0.5 ? "PASS" : "FAIL"}: relay on SQLite ${ratio.toFixed(2)}× bare (target ≥ 0.5×)`)

    const l = await lag()
    console.log(
      `lag: ${lagOrders} order.paid (real tokens) at ${lagRate}/s, relay on SQLite with its workers, sandbox fulfilment delay 0; POST ack → registration at the sandbox`
    )
    console.log(`  p50 ${l.p50.toFixed(1)} ms   p99 ${l.p99.toFixed(1)} ms   max ${l.max.toFixed(1)} ms   (${l.registered}/${lagOrders} registered, ${l.rejected} not 202, ${l.beforeAck} seen registered by the time the ack was read)`)
    console.log(
      `  p50 over the first tenth ${l.firstTenthP50.toFixed(1)} ms, the last tenth ${l.lastTenthP50.toFixed(1)} ms; registered ${l.registeredPerSecond.toFixed(0)}/s overall; send → ack p50 ${l.ackP50.toFixed(1)} ms, p99 ${l.ackP99.toFixed(1)} ms`
    )
    console.log(`total ${((performance.now() - wallStart) / 1000).toFixed(1)} s`)
  } finally {
    await generator.close()
    await sandbox.close()
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(0)
  }
)
