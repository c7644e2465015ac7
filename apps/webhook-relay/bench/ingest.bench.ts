/**
 * `pnpm bench`: inbound events verified and durably stored per second, next to a bare `node:http`
 * server (reads the body, answers 204) in the same run; ack latency p50/p99 at 1 and 50
 * connections; inbound-to-registered lag p99.
 *
 * - The load generator is a worker_thread (`loadgen.ts`: raw keep-alive sockets writing
 *   pre-built requests), so it does not share the server's event loop. It builds and signs every
 *   request before the clock starts, in its own thread: the measured heap never holds them.
 * - Throughput rows, at BENCH_CONNECTIONS and again at BENCH_PEAK_CONNECTIONS (a durable ack
 *   waits for an fsync, so a group-committing server needs senders in flight to show its
 *   capacity, while the bare server peaks early):
 *   - the bare server;
 *   - the reference (`reference.ts`): the least this design can do — HMAC, JSON.parse, group
 *     commit on a worker thread (WAL, synchronous=FULL) — the yardstick for what the relay adds;
 *   - the relay with workers off (ingest only: verify → decode → group commit → 2xx), on SQLite
 *     (WAL, synchronous=FULL, worker-thread writer) and on PostgreSQL (synchronous_commit=on, a
 *     throw-away schema) when DATABASE_URL is set.
 *   Each server runs right after its own bare-server run and its ratio is against that run (the
 *   machine may be shared; adjacent runs compare best).
 * - Lag: a relay with its workers on and a sandbox that fulfils at once; N signed `order.paid`
 *   events with real validation tokens at a steady rate; per order, POST ack → registration seen
 *   at the sandbox.
 *
 * Env: BENCH_SECONDS (3), BENCH_WARMUP (1), BENCH_LATENCY_SECONDS (1.5), BENCH_CONNECTIONS (50),
 * BENCH_PEAK_CONNECTIONS (200), BENCH_EVENTS (per row, 200000), BENCH_LAG_ORDERS (300),
 * BENCH_LAG_RATE (100/s), DATABASE_URL.
 */
import { HttpServer } from "@effect/platform"
import { SqlClient } from "@effect/sql/SqlClient"
import { HlConnect } from "@hlconnect/core"
import { defaultPolicy, Fulfilment } from "@hlconnect/fulfilment"
import { clientLayer, startSandbox, type RunningSandbox } from "@hlconnect/sandbox"
import { Health, HttpServing } from "@hlconnect/service"
import { Store } from "@hlconnect/store"
import { Duration, Effect, Layer, Logger, LogLevel, ManagedRuntime, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtemp, rm } from "node:fs/promises"
import { Agent, createServer, request } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Worker } from "node:worker_threads"
import * as Relay from "../src/Relay.js"
import * as RelayConfig from "../src/RelayConfig.js"
import type { LoadMessage, RunResult } from "./loadgen.js"
import { startReference } from "./reference.js"
import { listening, type Target } from "./target.js"
import { type Batch, paidBody, signed } from "./requests.js"

const envNumber = (name: string, fallback: number) => {
  const n = Number(process.env[name] ?? "")
  return Number.isFinite(n) && n > 0 ? n : fallback
}
const seconds = envNumber("BENCH_SECONDS", 3)
const warmupSeconds = envNumber("BENCH_WARMUP", 1)
const latencySeconds = envNumber("BENCH_LATENCY_SECONDS", 1.5)
const connections = envNumber("BENCH_CONNECTIONS", 50)
const peakConnections = envNumber("BENCH_PEAK_CONNECTIONS", 200)
const eventsPerRow = envNumber("BENCH_EVENTS", 200_000)
const lagOrders = envNumber("BENCH_LAG_ORDERS", 300)
const lagRate = envNumber("BENCH_LAG_RATE", 100)
const databaseUrl = process.env.DATABASE_URL === "" ? undefined : process.env.DATABASE_URL

const keyBytes = randomBytes(24)
const secret = `whsec_${keyBytes.toString("base64")}`
const path = Relay.ingestPath

let orderBase = 1_000_000 + (Math.floor(Date.now() / 1000) % 100_000) * 100

/** What the generator builds next: unique event ids and order numbers (a repeated id is a duplicate). */
const nextBatch = (count: number): Batch => {
  const batch = {
    secret,
    prefix: `bench-${randomBytes(4).toString("hex")}`,
    count,
    orderBase,
    token: randomBytes(24).toString("hex")
  }
  orderBase += count
  return batch
}

// ---------------------------------------------------------------------------------------------
// The load generator (worker thread)

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null

const toRunResult = (v: unknown): RunResult | undefined => {
  if (!isRecord(v)) return undefined
  const { ok, failed, statuses, elapsedMs, next, exhausted, latencies } = v
  if (typeof ok !== "number" || typeof failed !== "number" || typeof elapsedMs !== "number" || typeof next !== "number")
    return undefined
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
    load: async (batch: Batch) => {
      const loaded = reply("loaded")
      worker.postMessage({ _tag: "load", batch } satisfies LoadMessage)
      await loaded
    },
    run: async (options: {
      port: number
      connections: number
      seconds: number
      from: number
      cycle: boolean
    }): Promise<RunResult> => {
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
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN)

interface Row {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  /** Ack latency at 1 connection (NaN when not measured). */
  readonly p50at1: number
  readonly p99at1: number
  readonly failed: number
  readonly statuses: Record<string, number>
  readonly exhausted: boolean
}

/** Warm-up (discarded, JIT) → throughput and latency at `conns` → with `alone`, latency at 1 connection. */
const measure = async (
  generator: Generator,
  port: number,
  conns: number,
  cycle: boolean,
  alone: boolean
): Promise<Row> => {
  const warm = await generator.run({ port, connections: conns, seconds: warmupSeconds, from: 0, cycle })
  const many = await generator.run({ port, connections: conns, seconds, from: warm.next, cycle })
  const one = alone
    ? await generator.run({ port, connections: 1, seconds: latencySeconds, from: many.next, cycle })
    : undefined
  const statuses: Record<string, number> = {}
  for (const r of [warm, many, one])
    for (const [k, c] of Object.entries(r?.statuses ?? {})) statuses[k] = (statuses[k] ?? 0) + c
  return {
    rps: many.ok / (many.elapsedMs / 1000),
    p50: quantile(many.latencies, 0.5),
    p99: quantile(many.latencies, 0.99),
    p50at1: one === undefined ? Number.NaN : quantile(one.latencies, 0.5),
    p99at1: one === undefined ? Number.NaN : quantile(one.latencies, 0.99),
    failed: warm.failed + many.failed + (one?.failed ?? 0),
    statuses,
    exhausted: many.exhausted || one?.exhausted === true
  }
}

const bareServer = () =>
  listening(
    createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        res.writeHead(204)
        res.end()
      })
    })
  )

/** A fresh server from `start`, measured on `count` fresh requests (or a recycled few, where duplicates cost the same). */
const row = async (
  generator: Generator,
  start: () => Promise<Target>,
  options: { readonly conns: number; readonly alone: boolean; readonly fresh: boolean }
): Promise<Row> => {
  await generator.load(nextBatch(options.fresh ? eventsPerRow : 20_000))
  const target = await start()
  try {
    return await measure(generator, target.port, options.conns, !options.fresh, options.alone)
  } finally {
    await target.close()
  }
}

const inTempDir = async <A>(use: (dir: string) => Promise<A>): Promise<A> => {
  const dir = await mkdtemp(join(tmpdir(), "relay-bench-"))
  try {
    return await use(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The reference on a file the store has migrated: the relay's own inbox table and indexes. */
const referenceServer = (dir: string) => async () => {
  const filename = join(dir, `reference-${randomBytes(4).toString("hex")}.db`)
  await Effect.runPromise(Effect.scoped(Layer.build(Store.layerSqlite({ filename }))))
  return startReference({ filename, key: keyBytes })
}

const quiet = Logger.minimumLogLevel(LogLevel.Warning)

/** The relay (group commit, workers on or off) on the given store, HL Connect pointed at `sandbox`. */
const relayRuntime = (
  store: Layer.Layer<Store.StoreServices | SqlClient, unknown>,
  sandbox: RunningSandbox,
  workers: boolean
) =>
  ManagedRuntime.make(
    Relay.layer(RelayConfig.make({ webhookSecrets: [secret], timestampTolerance: Duration.minutes(5) }), {
      workers
    }).pipe(
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

/** The relay, ingest only (its workers off), on `store`. */
const relayServer =
  (sandbox: RunningSandbox, store: () => Layer.Layer<Store.StoreServices | SqlClient, unknown>) =>
  async (): Promise<Target> => {
    const runtime = relayRuntime(store(), sandbox, false)
    return { port: await portOf(runtime), close: () => runtime.dispose() }
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
        Effect.forEach(
          Array.from({ length: lagOrders }),
          () => hl.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 }),
          {
            concurrency: 8
          }
        )
      )
    )
    const base = orderBase
    orderBase += lagOrders
    const prefix = `lag-${randomBytes(4).toString("hex")}`
    const posts = tokens.map((t, i) => {
      const body = paidBody(base + i, t.token)
      return {
        body,
        headers: { ...signed(secret, `${prefix}-${i}`, body), "content-length": String(Buffer.byteLength(body)) }
      }
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

const ratio = (x: number, of: number | undefined) => (of === undefined ? "" : `${(x / of).toFixed(2)}×`)

const printHeader = (conns: number, alone: boolean) =>
  console.log(
    `  at ${String(conns).padEnd(4)} connections${"".padEnd(17)} ${"req/s".padStart(7)} ${"× bare".padStart(6)} ${"× ref".padStart(6)}   ${"p50".padStart(6)} ${"p99".padStart(6)}` +
      (alone ? `   ${"p50@1".padStart(6)} ${"p99@1".padStart(6)}` : "") +
      "  (ms)"
  )

const printRow = (label: string, row: Row, bareRps: number | undefined, referenceRps?: number) => {
  const alone = Number.isNaN(row.p50at1) ? "" : `   ${ms(row.p50at1)} ${ms(row.p99at1)}`
  console.log(
    `  ${label.padEnd(38)} ${row.rps.toFixed(0).padStart(7)} ${ratio(row.rps, bareRps).padStart(6)} ${ratio(row.rps, referenceRps).padStart(6)}   ${ms(row.p50)} ${ms(row.p99)}${alone}`
  )
  const unexpected = Object.entries(row.statuses).filter(([s]) => s !== "202" && s !== "204")
  if (row.failed > 0 || unexpected.length > 0)
    console.log(`    ! answers: ${JSON.stringify(row.statuses)}, failed: ${row.failed}`)
  if (row.exhausted) console.log(`    ! ran out of pre-signed requests (raise BENCH_EVENTS)`)
}

/** The relay on PostgreSQL (a throw-away schema), after its own bare run. */
const postgresRows = async (
  generator: Generator,
  sandbox: RunningSandbox,
  url: Redacted.Redacted,
  conns: number,
  alone: boolean
) => {
  const schema = `relay_bench_${randomBytes(6).toString("hex")}`
  const barePg = await row(generator, bareServer, { conns, alone, fresh: false })
  printRow("bare node:http (read body, 204)", barePg, undefined)
  try {
    const pg = await row(
      generator,
      relayServer(sandbox, () => Store.layerPg({ url, schema })),
      { conns, alone, fresh: true }
    )
    printRow("relay, PostgreSQL (sync commit on)", pg, barePg.rps)
  } catch (error) {
    console.log(`  relay, PostgreSQL                      failed: ${String(error)}`)
  } finally {
    await Effect.runPromise(
      Effect.flatMap(SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`).pipe(
        Effect.provide(Store.pgClient({ url })),
        Effect.catchAll((e) => Effect.sync(() => console.log(`    ! could not drop schema ${schema}: ${e.message}`)))
      )
    )
  }
}

const main = async () => {
  const wallStart = performance.now()
  const generator = await startGenerator()
  // Only builds the throughput rows' layers: their workers are off, so it is never called.
  const sandbox = await startSandbox()
  try {
    console.log(
      `ingest: load generator in a worker thread, requests built and signed before the clock starts; throughput over ${seconds} s ` +
        `after ${warmupSeconds} s warm-up, ack latency at the same connections and, in the first table, over ${latencySeconds} s at 1 connection`
    )
    const tables: Array<{ readonly conns: number; readonly bare: Row; readonly reference: Row; readonly sqlite: Row }> =
      []
    for (const conns of [connections, peakConnections]) {
      const alone = conns === connections
      printHeader(conns, alone)
      const bare = await row(generator, bareServer, { conns, alone, fresh: false })
      printRow("bare node:http (read body, 204)", bare, undefined)
      const measured = await inTempDir(async (dir) => {
        const reference = await row(generator, referenceServer(dir), { conns, alone, fresh: true })
        printRow("reference (HMAC, JSON, group commit)", reference, bare.rps)
        const sqlite = await row(
          generator,
          relayServer(sandbox, () => Store.layerSqlite({ filename: join(dir, `relay-${conns}.db`) })),
          {
            conns,
            alone,
            fresh: true
          }
        )
        printRow("relay, SQLite (sync=FULL, group)", sqlite, bare.rps, reference.rps)
        return { reference, sqlite }
      })
      tables.push({ conns, bare, ...measured })
      if (databaseUrl === undefined) console.log("  relay, PostgreSQL                      skipped: DATABASE_URL unset")
      else await postgresRows(generator, sandbox, Redacted.make(databaseUrl), conns, alone)
    }

    // Capacity against capacity: each server's best throughput over the two concurrencies.
    const best = (pick: (t: (typeof tables)[number]) => Row) => Math.max(...tables.map((t) => pick(t).rps))
    const capacity = best((t) => t.sqlite) / best((t) => t.bare)
    const perTable = tables.map((t) => `${(t.sqlite.rps / t.bare.rps).toFixed(2)}× at ${t.conns}`).join(", ")
    console.log(
      `  ${capacity >= 0.5 ? "PASS" : "FAIL"}: relay on SQLite at ${capacity.toFixed(2)}× the bare server's capacity (best of each; ${perTable}) — target ≥ 0.5×`
    )
    console.log(
      `  the reference reaches ${(best((t) => t.reference) / best((t) => t.bare)).toFixed(2)}× (${tables.map((t) => `${(t.reference.rps / t.bare.rps).toFixed(2)}× at ${t.conns}`).join(", ")}); ` +
        `the relay does ${(best((t) => t.sqlite) / best((t) => t.reference)).toFixed(2)}× of it`
    )

    const l = await lag()
    console.log(
      `lag: ${lagOrders} order.paid (real tokens) at ${lagRate}/s, relay on SQLite with its workers, sandbox fulfilment delay 0; POST ack → registration at the sandbox`
    )
    console.log(
      `  p50 ${l.p50.toFixed(1)} ms   p99 ${l.p99.toFixed(1)} ms   max ${l.max.toFixed(1)} ms   (${l.registered}/${lagOrders} registered, ${l.rejected} not 202, ${l.beforeAck} seen registered by the time the ack was read)`
    )
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
    process.exit(1)
  }
)
