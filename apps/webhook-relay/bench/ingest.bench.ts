/**
 * Ingest throughput: signed events from 64 concurrent keep-alive senders against (1) a bare
 * node:http server that only reads the body and answers 200, (2) the relay with group commit,
 * (3) the relay committing each event alone, (4) group commit on the main thread (the store's
 * synchronous SQLite driver, fsync on the event loop). SQLite in WAL mode with synchronous=FULL; the
 * workers are off so only ingest is measured. Bodies are signed before the clock starts.
 */
import { HttpServer } from "@effect/platform"
import { defaultPolicy, Fulfilment } from "@hlconnect/fulfilment"
import { Health, HttpServing } from "@hlconnect/service"
import { Store } from "@hlconnect/store"
import { Duration, Effect, Either, Layer, Logger, LogLevel, ManagedRuntime, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtemp, rm } from "node:fs/promises"
import { Agent, createServer, request } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Relay from "../src/Relay.js"
import * as RelayConfig from "../src/RelayConfig.js"
import { decodeSecret, signedHeaders } from "../src/Signature.js"
import { clientLayer, startSandbox } from "@hlconnect/sandbox"

const senders = 64
const seconds = Number(process.env.BENCH_SECONDS ?? "2.5")
const rounds = Number(process.env.BENCH_ROUNDS ?? "1")
const perRun = 15_000
const warmup = Number(process.env.BENCH_WARMUP ?? "1")
const secret = `whsec_${randomBytes(24).toString("base64")}`
const key = Either.getOrThrow(decodeSecret(Redacted.make(secret)))

const makeEvents = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => {
    const id = `${prefix}-${i}`
    const body = JSON.stringify({
      type: "order.paid",
      data: {
        order_number: 100_000 + i,
        customer: { name: "Bench Customer", email: "bench@example.com" },
        lines: [{ order_line_id: 1, asset_id: 4000, quantity: 1, unit_price: "3.99", line_price: "3.99", validation_token: randomBytes(24).toString("hex") }]
      }
    })
    return { body, headers: { "content-type": "application/json", ...signedHeaders([key], id, Math.floor(Date.now() / 1000), body) } }
  })

const load = async (url: string, events: ReadonlyArray<{ body: string; headers: Record<string, string> }>, from = 0, runSeconds = seconds) => {
  const agent = new Agent({ keepAlive: true, maxSockets: senders })
  const target = new URL(url)
  let next = from
  let ok = 0
  let failed = 0
  const deadline = Date.now() + runSeconds * 1000
  const one = (e: { body: string; headers: Record<string, string> }) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ agent, host: target.hostname, port: target.port, path: target.pathname, method: "POST", headers: e.headers }, (res) => {
        res.resume()
        res.on("end", () => resolve(res.statusCode ?? 0))
      })
      req.on("error", reject)
      req.end(e.body)
    })
  const started = Date.now()
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (Date.now() < deadline && next < events.length) {
        const e = events[next++]
        if (e === undefined) break
        const status = await one(e)
        if (status >= 200 && status < 300) ok++
        else failed++
      }
    })
  )
  const elapsed = (Date.now() - started) / 1000
  agent.destroy()
  return { rps: ok / elapsed, ok, failed, next }
}

const bare = async () => {
  const server = createServer((req, res) => {
    req.resume()
    req.on("end", () => res.end("ok"))
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  const result = await load(`http://127.0.0.1:${port}/webhooks/commerce`, makeEvents(perRun, `bare-${Math.random()}`))
  await new Promise<void>((r) => server.close(() => r()))
  return result
}

// Only needed to build the layers: the workers are off, so it is never called.
const sandbox = await startSandbox()

const relay = async (groupCommit: boolean, inboxWriter: "auto" | "store" = "auto") => {
  const dir = await mkdtemp(join(tmpdir(), "relay-bench-"))
  const config = RelayConfig.make({ webhookSecrets: [secret], timestampTolerance: Duration.minutes(5) })
  const runtime = ManagedRuntime.make(
    Relay.layer(config, { groupCommit, workers: false, inboxWriter }).pipe(
      Layer.provideMerge(Layer.mergeAll(Fulfilment.Default(defaultPolicy), Health.Health.Default)),
      Layer.provideMerge(HttpServing.serverLayer({ port: 0, host: "127.0.0.1" })),
      Layer.provide(clientLayer(sandbox)),
      Layer.provideMerge(Store.layerSqlite({ filename: join(dir, "relay.db") })),
      Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
    )
  )
  const address = await runtime.runPromise(Effect.map(HttpServer.HttpServer, (s) => s.address))
  const port = address._tag === "TcpAddress" ? address.port : 0
  const events = makeEvents(perRun, `${inboxWriter}-${groupCommit}-${Math.random()}`)
  // Warm up (JIT) before measuring: the relay runs far more code per request than the bare server.
  const warm = await load(`http://127.0.0.1:${port}/webhooks/commerce`, events, 0, warmup)
  const result = await load(`http://127.0.0.1:${port}/webhooks/commerce`, events, warm.next)
  await runtime.dispose()
  await rm(dir, { recursive: true, force: true })
  return result
}

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

const main = async () => {
  // Interleaved rounds: a shared, busy machine drifts; ratios within a round are what compare.
  const results: Record<"bare" | "grouped" | "single" | "mainThread", Array<number>> = { bare: [], grouped: [], single: [], mainThread: [] }
  let failed = 0
  // One unreported run first, so no scenario pays for cold JIT more than another.
  await relay(true)
  for (let r = 0; r < rounds; r++) {
    const b = await bare()
    const g = await relay(true)
    const s = await relay(false)
    const m = await relay(true, "store")
    failed += g.failed + s.failed + m.failed
    results.bare.push(b.rps)
    results.grouped.push(g.rps)
    results.single.push(s.rps)
    results.mainThread.push(m.rps)
  }
  const ratio = (xs: ReadonlyArray<number>) => median(xs.map((x, i) => x / (results.bare[i] ?? 1)))
  const line = (label: string, xs: ReadonlyArray<number>) =>
    console.log(`  ${label.padEnd(52)} ${median(xs).toFixed(0).padStart(7)} req/s   ${ratio(xs).toFixed(2)}× bare`)
  console.log(`ingest: ${senders} concurrent senders, ${rounds} round(s) of ${seconds} s after ${warmup} s warm-up, SQLite WAL synchronous=FULL (medians)`)
  line("bare node:http (read body, answer 200)", results.bare)
  line("relay, group commit (worker-thread writer)", results.grouped)
  line("relay, one commit per event (worker-thread writer)", results.single)
  line("relay, group commit on the main thread (sync driver)", results.mainThread)
  console.log(`  group commit vs one commit per event: ${(median(results.grouped) / median(results.single)).toFixed(1)}×`)
  if (failed > 0) console.log(`  non-2xx answers: ${failed}`)
}

main().then(
  async () => {
    await sandbox.close()
    process.exit(0)
  },
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
