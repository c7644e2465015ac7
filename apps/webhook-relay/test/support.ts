/**
 * A real relay for tests: HTTP on port 0, SQLite in a temp dir, a real sandbox behind it.
 */
import { HttpServer } from "@effect/platform"
import type { SqlClient } from "@effect/sql/SqlClient"
import { HlConnect } from "@hlconnect/core"
import { defaultPolicy, Fulfilment } from "@hlconnect/fulfilment"
import { Health, HttpServing } from "@hlconnect/service"
import { Inbox, OrderLines, Outbox, Store, Subscribers, Testing } from "@hlconnect/store"
import { Duration, Effect, Layer, Logger, LogLevel, ManagedRuntime, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtemp, rm } from "node:fs/promises"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Webhook } from "standardwebhooks"
import * as Relay from "../src/Relay.js"
import * as RelayConfig from "../src/RelayConfig.js"
import * as SubscriberUrl from "../src/SubscriberUrl.js"
import { clientLayer, type RunningSandbox, startSandbox } from "@hlconnect/sandbox"

/** DATABASE_URL, or `undefined` to skip PostgreSQL runs; under CI / REQUIRE_POSTGRES a missing URL fails. */
export const postgresUrl = () => Testing.postgresUrl("the PostgreSQL relay tests")

export const asRecord = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null ? Object.fromEntries(Object.entries(v)) : {}

/** A SQLite store in a temporary directory (`prefix` names it), removed when the layer is released. */
export const tempSqliteStore = (prefix: string) =>
  Layer.unwrapScoped(
    Effect.map(
      Effect.acquireRelease(
        Effect.promise(() => mkdtemp(join(tmpdir(), prefix))),
        (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
      ),
      (dir) => Store.layerSqlite({ filename: join(dir, "relay.db") })
    )
  )

/** Every log line, at every level, as logfmt into `logs` (for asserting on what was logged). */
export const capturingLogs = (logs: Array<string>) =>
  Layer.merge(
    Logger.replace(
      Logger.defaultLogger,
      Logger.map(Logger.logfmtLogger, (line) => {
        logs.push(line)
      })
    ),
    Logger.minimumLogLevel(LogLevel.All)
  )

/**
 * The engines a suite runs on: SQLite always, PostgreSQL (a fresh schema per suite, named with
 * `prefix`) when `postgresUrl()` gives a URL.
 */
export const enginesUnderTest = (prefix: string) => {
  const url = postgresUrl()
  return [
    { name: "sqlite", store: undefined },
    ...(url === undefined
      ? []
      : [
          {
            name: "pg",
            store: () =>
              Store.layerPg({ url: Redacted.make(url), schema: `${prefix}_${randomBytes(6).toString("hex")}` })
          }
        ])
  ]
}

export const newSecret = () => `whsec_${randomBytes(24).toString("base64")}`
export const adminToken = "admin-token-0123456789abcdef"

export type Services = Store.StoreServices | SqlClient | HlConnect | Fulfilment | HttpServer.HttpServer

export interface RunningRelay {
  readonly url: string
  readonly secrets: ReadonlyArray<string>
  readonly sandbox: RunningSandbox
  /** The relay's configuration (its secrets key ring, to reach the store's sealed secrets directly). */
  readonly config: RelayConfig.RelayConfig
  readonly run: <A, E>(effect: Effect.Effect<A, E, Services>) => Promise<A>
  readonly close: () => Promise<void>
}

export const startRelay = async (
  overrides: Partial<Omit<RelayConfig.RelayConfig, "webhookKeys">> = {},
  options: {
    readonly store?: Layer.Layer<Store.StoreServices | SqlClient, unknown>
    readonly secrets?: ReadonlyArray<string>
    readonly relay?: Relay.Options
    /** Name resolution for subscriber hosts (default: the system's). */
    readonly resolver?: SubscriberUrl.HostResolver
    /** Collects every log line (all levels, logfmt) instead of discarding them. */
    readonly logs?: Array<string>
  } = {}
): Promise<RunningRelay> => {
  const sandbox = await startSandbox()
  const dir = await mkdtemp(join(tmpdir(), "relay-test-"))
  const secrets = options.secrets ?? [newSecret(), newSecret()]
  const config = RelayConfig.make({
    webhookSecrets: secrets,
    adminToken: Option.some(Redacted.make(adminToken)),
    pollInterval: Duration.millis(50),
    retrySchedule: [Duration.millis(100), Duration.millis(100), Duration.millis(100)],
    retryJitter: 0,
    dispatchRetryDelay: Duration.millis(200),
    deliveryTimeout: Duration.seconds(2),
    // Subscribers here are local http:// servers.
    allowPrivateSubscribers: true,
    ...overrides
  })
  const store = options.store ?? Store.layerSqlite({ filename: join(dir, "relay.db") })
  const logs = options.logs
  const logging =
    logs === undefined
      ? Logger.minimumLogLevel(process.env.RELAY_TEST_LOGS === "1" ? LogLevel.Debug : LogLevel.None)
      : capturingLogs(logs)
  const relayLayer =
    options.resolver === undefined
      ? Relay.layer(config, options.relay)
      : Relay.layer(config, options.relay).pipe(
          Layer.provide(Layer.succeed(SubscriberUrl.HostResolver, options.resolver))
        )
  const layer = relayLayer.pipe(
    Layer.provideMerge(Layer.mergeAll(Fulfilment.Default(defaultPolicy), Health.Health.Default)),
    Layer.provideMerge(HttpServing.serverLayer({ port: 0, host: "127.0.0.1", shutdownGrace: Duration.seconds(1) })),
    Layer.provideMerge(clientLayer(sandbox)),
    Layer.provideMerge(store),
    Layer.provide(logging)
  )
  const runtime = ManagedRuntime.make(layer)
  const address = await runtime
    .runPromise(Effect.map(HttpServer.HttpServer, (s) => s.address))
    .catch(async (error: unknown) => {
      await runtime.dispose()
      await sandbox.close()
      await rm(dir, { recursive: true, force: true })
      throw error
    })
  const url = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
  return {
    url,
    secrets,
    sandbox,
    config,
    run: (effect) => runtime.runPromise(effect),
    close: async () => {
      await runtime.dispose()
      await sandbox.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** Signs with the peer implementation (standardwebhooks). */
export const signed = (secret: string, id: string, body: string, date = new Date()) => ({
  "content-type": "application/json",
  "webhook-id": id,
  "webhook-timestamp": String(Math.floor(date.getTime() / 1000)),
  "webhook-signature": new Webhook(secret).sign(id, date, body)
})

export const post = async (relay: RunningRelay, body: string, headers: Record<string, string>) => {
  const res = await fetch(`${relay.url}/webhooks/commerce`, { method: "POST", body, headers })
  const json = asRecord(await res.json())
  return { status: res.status, json }
}

export const send = (
  relay: RunningRelay,
  event: unknown,
  id = `msg_${randomBytes(8).toString("hex")}`,
  secret = relay.secrets[0] ?? ""
) => {
  const body = JSON.stringify(event)
  return post(relay, body, signed(secret, id, body)).then((r) => ({ ...r, id }))
}

export const admin = async (relay: RunningRelay, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${relay.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const json = asRecord(await res.json())
  return { status: res.status, json }
}

/** A real validation token from the sandbox. */
export const validToken = (relay: RunningRelay, assetId = 4000) =>
  relay
    .run(
      Effect.flatMap(HlConnect, (hl) =>
        hl.validatePurchase({ asset_id: assetId, customer_ip: "192.0.2.1", quantity: 1 })
      )
    )
    .then((t) => ({ token: t.token, exp: t.exp_date }))

let orderCounter = Math.floor(Date.now() / 1000) % 1_000_000
export const nextOrderNumber = () => ++orderCounter * 10

export const paidEvent = (
  orderNumber: number,
  lines: ReadonlyArray<{
    id: number
    token: string
    exp?: number
    /** The asset the token was validated for (default 4000). */
    asset?: number
    parts?: ReadonlyArray<{ asset_id: number; order_line_id: number }>
  }>
) => ({
  type: "order.paid",
  data: {
    order_number: orderNumber,
    customer: { name: "Ada Customer", email: "ada@example.com" },
    lines: lines.map((l) => ({
      order_line_id: l.id,
      asset_id: l.asset ?? 4000,
      quantity: 1,
      unit_price: "3.99",
      line_price: 3.99,
      validation_token: l.token,
      ...(l.exp === undefined ? {} : { token_expires_at: l.exp }),
      ...(l.parts === undefined ? {} : { parts: l.parts })
    }))
  }
})

export const eventually = async <A>(
  check: () => Promise<A | undefined>,
  timeoutMs = 10_000,
  what = "condition"
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check().catch((error: unknown) => {
      if (Date.now() > deadline) throw error
      return undefined
    })
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export const lineState = (relay: RunningRelay, orderNumber: number, lineId: number) =>
  relay.run(
    Effect.flatMap(OrderLines.OrderLines, (l) =>
      l.get({ orderNumber: String(orderNumber), orderLineId: String(lineId) })
    )
  )

export const inboxEvent = (relay: RunningRelay, id: string) =>
  relay.run(Effect.flatMap(Inbox.Inbox, (i) => i.get(id))).then(Option.getOrUndefined)

export const appendOutbound = (relay: RunningRelay, orderNumber: string, eventType: string, payload: unknown) =>
  relay.run(Effect.flatMap(Outbox.Outbox, (o) => o.append({ orderNumber, eventType, payload })))

export const getDelivery = (relay: RunningRelay, id: string) =>
  relay.run(Effect.flatMap(Outbox.Outbox, (o) => o.getDelivery(id)))

export const getSubscriber = (relay: RunningRelay, id: string) =>
  relay.run(Effect.flatMap(Subscribers.Subscribers, (s) => s.get(id)))

export interface Received {
  readonly at: number
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

/** The headers of a received request as `standardwebhooks` wants them. */
export const headersOf = (r: Received): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(r.headers)) if (typeof v === "string") headers[k] = v
  return headers
}

/** A resolver answering from a mutable table; a missing name does not resolve. */
export const fakeDns = (table: Map<string, string>) =>
  SubscriberUrl.HostResolver.make({
    lookup: (hostname) => {
      const address = table.get(hostname)
      return address === undefined
        ? Effect.fail(new SubscriberUrl.HostUnresolvable({ hostname, message: `getaddrinfo ENOTFOUND ${hostname}` }))
        : Effect.succeed([{ address, family: address.includes(":") ? 6 : 4 }])
    }
  })

/** A local subscriber endpoint; `respond` decides each answer. */
export const startReceiver = async (
  respond: (n: number, req: Received, res: ServerResponse) => void = (_n, _r, res) => res.end("ok")
) => {
  const received: Array<Received> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const r = { at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString("utf8") }
      received.push(r)
      respond(received.length, r, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
