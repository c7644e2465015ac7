/**
 * The start-up race: the relay's socket listens before its routes are served (the server is
 * built first, then the relay seeds subscribers, starts the inbox writer, builds the router).
 * A connection made in between used to be accepted and never answered. Now it is answered
 * 503 + Retry-After (so a webhook sender retries), and nothing is stored.
 */
import { defaultPolicy, Fulfilment } from "@hlconnect/fulfilment"
import { clientLayer, freePort, startSandbox } from "@hlconnect/sandbox"
import { Health, HttpServing } from "@hlconnect/service"
import { Inbox, Store } from "@hlconnect/store"
import { Duration, Effect, Layer, Logger, LogLevel, ManagedRuntime, Option, Redacted } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as Relay from "../src/Relay.js"
import * as RelayConfig from "../src/RelayConfig.js"
import * as SubscriberUrl from "../src/SubscriberUrl.js"
import { adminToken, asRecord, newSecret, signed } from "./support.js"

const refused = (error: unknown) =>
  error instanceof Error && error.cause instanceof Error && "code" in error.cause && error.cause.code === "ECONNREFUSED"

/**
 * The first answer from `url`: waits out "connection refused" (not listening yet), but a
 * connection that is accepted and left unanswered fails the test (that is the bug).
 */
const firstAnswer = async (url: string, init: RequestInit = {}): Promise<Response> => {
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) })
    } catch (error) {
      if (!refused(error) || Date.now() > deadline) throw new Error(`no answer from ${url}`, { cause: error })
      await new Promise((r) => setTimeout(r, 20))
    }
  }
}

describe("start-up", () => {
  it("a request made while the relay is still starting is answered 503 + Retry-After, never left hanging", async () => {
    const sandbox = await startSandbox()
    const dir = await mkdtemp(join(tmpdir(), "relay-startup-"))
    const port = await freePort()
    // Start-up is held at a known step: resolving a seeded subscriber's host waits for this.
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const loopback: ReadonlyArray<SubscriberUrl.ResolvedAddress> = [{ address: "127.0.0.1", family: 4 }]
    const resolver = SubscriberUrl.HostResolver.make({
      lookup: () => Effect.promise(() => gate).pipe(Effect.as(loopback))
    })
    const secret = newSecret()
    const config = RelayConfig.make({
      webhookSecrets: [secret],
      adminToken: Option.some(Redacted.make(adminToken)),
      allowPrivateSubscribers: true,
      seedSubscribers: [{ url: "http://seed.example.test:9/hook", secret: Redacted.make(newSecret()), events: ["*"] }],
      pollInterval: Duration.millis(50)
    })
    const layer = Relay.layer(config).pipe(
      Layer.provide(Layer.succeed(SubscriberUrl.HostResolver, resolver)),
      Layer.provideMerge(Layer.mergeAll(Fulfilment.Default(defaultPolicy), Health.Health.Default)),
      Layer.provideMerge(HttpServing.serverLayer({ port, host: "127.0.0.1", shutdownGrace: Duration.seconds(1) })),
      Layer.provideMerge(clientLayer(sandbox)),
      Layer.provideMerge(Store.layerSqlite({ filename: join(dir, "relay.db") })),
      Layer.provide(Logger.minimumLogLevel(LogLevel.None))
    )
    const runtime = ManagedRuntime.make(layer)
    const started = runtime.runPromise(Effect.void)
    try {
      const url = `http://127.0.0.1:${port}`
      const ready = await firstAnswer(`${url}/health/ready`)
      expect(ready.status).toBe(503)
      expect(ready.headers.get("retry-after")).toBe("1")
      expect(asRecord(await ready.json()).message).toContain("starting")

      // A webhook sent now is refused with a status the sender retries on, and not stored.
      const body = JSON.stringify({ type: "order.refunded", data: { order_number: 1 } })
      const early = await firstAnswer(`${url}/webhooks/commerce`, {
        method: "POST",
        body,
        headers: signed(secret, "startup-1", body)
      })
      expect(early.status).toBe(503)
      const admin = await firstAnswer(`${url}/admin/subscribers`, {
        headers: { authorization: `Bearer ${adminToken}` }
      })
      expect(admin.status).toBe(503)

      release()
      await started
      const after = await firstAnswer(`${url}/health/ready`)
      expect(after.status).toBe(200)
      const again = await firstAnswer(`${url}/webhooks/commerce`, {
        method: "POST",
        body,
        headers: signed(secret, "startup-1", body)
      })
      expect(again.status).toBe(202)
      const stored = await runtime.runPromise(Effect.flatMap(Inbox.Inbox, (inbox) => inbox.get("startup-1")))
      expect(Option.map(stored, (e) => e.eventId)).toEqual(Option.some("startup-1"))
    } finally {
      release()
      await started.catch(() => undefined)
      await runtime.dispose()
      await sandbox.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
