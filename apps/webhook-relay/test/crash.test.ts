/**
 * Crash test: the built relay (`node dist/main.js`) as a child process on SQLite, fed
 * CRASH_ORDERS (default 1,000) signed order.paid events, SIGKILLed mid-flight, restarted; the
 * sender re-sends whatever was not acknowledged, as a real sender does. Then every order is
 * completed (the reconciler's step, run here) and the relay is SIGKILLed again while
 * delivering. Nothing may be lost: each line registered exactly once at the sandbox, every
 * acknowledged event in the inbox, every order.completed delivered at least once.
 */
import { HlConnect } from "@hlconnect/core"
import { defaultPolicy, Fulfilment } from "@hlconnect/fulfilment"
import { Inbox, OrderLines, Outbox, Store } from "@hlconnect/store"
import { Duration, Effect, Layer, ManagedRuntime, Option } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { createWriteStream, existsSync, readdirSync, statSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Webhook } from "standardwebhooks"
import { afterAll, describe, expect, it } from "vitest"
import { clientLayer, freePort, SandboxToken, startSandbox } from "@hlconnect/sandbox"
import { asRecord, eventually, newSecret, startReceiver } from "./support.js"

const orders = Number(process.env.CRASH_ORDERS ?? "1000")
const appDir = join(dirname(fileURLToPath(import.meta.url)), "..")
const mainJs = join(appDir, "dist", "main.js")

/** Builds dist when missing or older than a source file (CI builds it first; locally it may be stale). */
const ensureBuilt = () => {
  const newestSource = Math.max(
    ...readdirSync(join(appDir, "src")).map((f) => statSync(join(appDir, "src", f)).mtimeMs)
  )
  if (existsSync(mainJs) && statSync(mainJs).mtimeMs >= newestSource) return
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: appDir, stdio: "inherit" })
}

const t0 = Date.now()
const progress = (what: string) => {
  if (process.env.CRASH_PROGRESS === "1")
    process.stderr.write(`crash test +${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}\n`)
}

describe("crash test", () => {
  const cleanups: Array<() => Promise<void>> = []
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined)
  })

  it(`${orders} paid orders, SIGKILL mid-ingest and mid-delivery: each line registered once, nothing lost`, async () => {
    ensureBuilt()
    progress("built")
    const sandbox = await startSandbox({ fulfilmentDelay: Duration.zero })
    cleanups.push(() => sandbox.close())
    const receiver = await startReceiver()
    cleanups.push(() => receiver.close())
    const dir = await mkdtemp(join(tmpdir(), "relay-crash-"))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const inboundSecret = newSecret()
    const subscriberSecret = newSecret()
    // One key for every restart: the subscriber's sealed secret must open after each.
    const secretsKey = `rsk_${randomBytes(32).toString("base64")}`
    const port = await freePort()
    progress("port")
    const url = `http://127.0.0.1:${port}`
    const log = createWriteStream(join(dir, "relay.log"))

    let child: ChildProcess | undefined
    const start = async () => {
      // Not process.env wholesale: DATABASE_URL must not switch the child to PostgreSQL.
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? "",
        PORT: String(port),
        HOST: "127.0.0.1",
        DATA_DIR: dir,
        HLCONNECT_BASE_URL: sandbox.url,
        HLCONNECT_TOKEN: SandboxToken,
        RELAY_WEBHOOK_SECRETS: inboundSecret,
        RELAY_SECRETS_KEY: secretsKey,
        RELAY_SUBSCRIBERS: JSON.stringify([{ url: receiver.url, secret: subscriberSecret, events: ["order.*"] }]),
        // The receiver is a local http:// server.
        RELAY_ALLOW_PRIVATE_SUBSCRIBERS: "true",
        RELAY_POLL_INTERVAL: "100 millis",
        RELAY_RETRY_SCHEDULE: "200 millis,200 millis,500 millis,1 second,2 seconds",
        RELAY_DISPATCH_RETRY_DELAY: "200 millis",
        // The killed relay's leased events come back after this (the default is 2 minutes).
        RELAY_DISPATCH_LEASE: "2 seconds",
        RELAY_DELIVERY_TIMEOUT: "5 seconds",
        LOG_FORMAT: "json",
        LOG_LEVEL: "Warn",
        SHUTDOWN_GRACE: "2 seconds"
      }
      const proc = spawn(process.execPath, [mainJs], { cwd: appDir, env, stdio: ["ignore", "pipe", "pipe"] })
      proc.stdout?.pipe(log, { end: false })
      proc.stderr?.pipe(log, { end: false })
      child = proc
      await eventually(
        async () => {
          if (proc.exitCode !== null)
            throw new Error(`relay exited with ${proc.exitCode}; see ${join(dir, "relay.log")}`)
          // Answered 503 while the relay is still starting (see test/startup.test.ts); bounded all the same.
          return (await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) })).ok ? true : undefined
        },
        60_000,
        "relay ready"
      )
    }
    const kill = async () => {
      const proc = child
      if (proc === undefined || proc.exitCode !== null) return
      const exited = new Promise((r) => proc.once("exit", r))
      proc.kill("SIGKILL")
      await exited
    }
    cleanups.push(kill)

    // One validation per line at the sandbox, then every request signed before the clock starts.
    // The client on a runtime of its own (the sandbox's runtime has a test clock).
    progress("relay up? validating")
    const client = ManagedRuntime.make(clientLayer(sandbox))
    cleanups.push(() => client.dispose())
    const tokens = await client.runPromise(
      Effect.forEach(
        Array.from({ length: orders }, (_, i) => i),
        () =>
          Effect.flatMap(HlConnect, (hl) =>
            hl.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 })
          ),
        { concurrency: 16 }
      )
    )
    const base = 700_000 + Math.floor(Math.random() * 100_000) * 10
    const wh = new Webhook(inboundSecret)
    const events = tokens.map((t, i) => {
      const id = `crash-${i}-${randomBytes(4).toString("hex")}`
      const body = JSON.stringify({
        type: "order.paid",
        data: {
          order_number: base + i,
          customer: { name: "Crash Customer", email: "crash@example.com" },
          lines: [
            {
              order_line_id: 1,
              asset_id: 4000,
              quantity: 1,
              unit_price: "3.99",
              line_price: "3.99",
              validation_token: t.token,
              token_expires_at: t.exp_date
            }
          ]
        }
      })
      const now = new Date()
      return {
        id,
        body,
        headers: {
          "content-type": "application/json",
          "webhook-id": id,
          "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
          "webhook-signature": wh.sign(id, now, body)
        }
      }
    })

    await start()
    progress("validated and signed")
    const acked = new Set<string>()
    const killAfter = Math.floor(orders * (0.2 + Math.random() * 0.4))
    let killed: Promise<void> | undefined
    /** Sends every event not yet acknowledged, 32 at a time; connection errors leave it un-acked. */
    const sendAll = async (killAt?: number) => {
      const queue = events.filter((e) => !acked.has(e.id))
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          for (let e = queue.shift(); e !== undefined; e = queue.shift()) {
            const res = await fetch(`${url}/webhooks/commerce`, {
              method: "POST",
              headers: e.headers,
              body: e.body
            }).catch(() => undefined)
            if (res === undefined) continue
            await res.arrayBuffer().catch(() => undefined)
            if (res.status === 202 || res.status === 200) acked.add(e.id)
            if (killAt !== undefined && acked.size >= killAt && killed === undefined) killed = kill()
          }
        })
      )
    }
    await sendAll(killAfter)
    await killed
    progress("killed")
    const ackedBeforeCrash = acked.size
    expect(ackedBeforeCrash).toBeLessThan(orders)
    await start()
    await sendAll()
    expect(acked.size).toBe(orders)
    progress("all acked")

    const registrations = async () => asRecord(asRecord(await sandbox.run(sandbox.state.stats)).registrations)
    await eventually(
      async () => {
        const regs = await registrations()
        return events.every((_, i) => Number(regs[`${base + i}:1`] ?? 0) >= 1) ? true : undefined
      },
      180_000,
      "every line registered at the sandbox"
    )
    progress("all registered")
    // Stop cleanly so the completions below have the database to themselves.
    const proc = child
    if (proc !== undefined) {
      const exited = new Promise((r) => proc.once("exit", r))
      proc.kill("SIGTERM")
      await exited
    }

    const regs = await registrations()
    const counts = events.map((_, i) => Number(regs[`${base + i}:1`] ?? 0))
    expect(counts.filter((c) => c !== 1)).toEqual([])

    // The reconciler's step: the sandbox fulfils at once, so every order completes and emits order.completed.
    const runtime = ManagedRuntime.make(
      Fulfilment.Default(defaultPolicy).pipe(
        Layer.provideMerge(Store.layerSqlite({ filename: join(dir, "hlconnect.db") })),
        Layer.provideMerge(clientLayer(sandbox))
      )
    )
    cleanups.push(() => runtime.dispose())
    const missing = await runtime.runPromise(
      Effect.gen(function* () {
        const inbox = yield* Inbox.Inbox
        const lines = yield* OrderLines.OrderLines
        const fulfilment = yield* Fulfilment
        const notStored: Array<string> = []
        for (const e of events) if (Option.isNone(yield* inbox.get(e.id))) notStored.push(e.id)
        yield* Effect.forEach(
          events,
          (_, i) =>
            Effect.flatMap(lines.findOrder(String(base + i)), (found) =>
              Option.isSome(found) ? Effect.asVoid(fulfilment.reconcileOrder(found.value.lines)) : Effect.void
            ),
          { concurrency: 16, discard: true }
        )
        return notStored
      })
    )
    expect(missing).toEqual([])
    progress("reconciled")
    const outbound = await runtime.runPromise(
      Effect.flatMap(Outbox.Outbox, (o) =>
        Effect.forEach(events, (_, i) => o.eventsForOrder(String(base + i)), { concurrency: 16 })
      )
    )
    const completed = outbound.flat().filter((e) => e.eventType === "order.completed")
    expect(completed.length).toBe(orders)

    // Deliver, crash while delivering, restart: at least once each.
    const delivered = () => new Set(receiver.received.map((r) => String(r.headers["webhook-id"])))
    await start()
    await eventually(
      async () => (delivered().size >= Math.min(orders, 50) ? true : undefined),
      60_000,
      "first deliveries"
    )
    await kill()
    await start()
    progress("restarted for delivery")
    await eventually(
      async () => (completed.every((e) => delivered().has(e.eventId)) ? true : undefined),
      180_000,
      "every order.completed delivered"
    )
    const verifier = new Webhook(subscriberSecret)
    const bodies = new Map<string, Record<string, unknown>>()
    for (const r of receiver.received) {
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(r.headers)) if (typeof v === "string") headers[k] = v
      bodies.set(headers["webhook-id"] ?? "", asRecord(verifier.verify(r.body, headers)))
    }
    for (const e of completed) {
      const body = bodies.get(e.eventId)
      expect(body?.order_number).toBe(e.orderNumber)
      expect(body?.sequence).toBe(e.sequence)
      expect(body?.type).toBe("order.completed")
    }
    process.stderr.write(
      `crash test: ${orders} orders, SIGKILL after ${ackedBeforeCrash} acks, ${receiver.received.length} deliveries for ${completed.length} events\n`
    )
    // About 80 s on a quiet 2-core machine; generous for a busy CI host (the waits above bound it).
  }, 480_000)
})
