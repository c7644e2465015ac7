/**
 * Test wiring: a fresh store per test (SQLite temp file, or a unique PostgreSQL schema), the
 * reconciler over it, and orders seeded with real validation tokens from the sandbox.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import { HlConnect, type HlConnectOptions } from "@hlconnect/core"
import { Fulfilment, type FulfilmentPolicy } from "@hlconnect/fulfilment"
import { OrderLines, Store, type StorageError, Testing } from "@hlconnect/store"
import { SqlClient as SqlClientTag } from "@effect/sql/SqlClient"
import { Duration, Effect, Layer, Redacted } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Reconciler } from "../../src/Reconciler.js"
import { provideClient, SandboxToken } from "@hlconnect/sandbox"

export interface Engine {
  readonly name: "sqlite" | "pg"
  readonly store: () => Layer.Layer<Store.StoreServices | SqlClient, StorageError>
}

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "reconciler-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

export const sqliteEngine: Engine = {
  name: "sqlite",
  store: () =>
    Layer.unwrapScoped(Effect.map(tempDir, (dir) => Store.layerSqlite({ filename: join(dir, "hlconnect.db") })))
}

/** The PostgreSQL URL, or undefined (skip, with a warning) unless CI / REQUIRE_POSTGRES demand it. */
export const postgresUrl = () => Testing.postgresUrl("the PostgreSQL half of the reconciler suite")

export const uniqueSchema = () => Testing.uniqueSchema("reconciler")

export const dropSchema = Testing.dropSchema

export const pgEngine = (url: string): Engine => ({
  name: "pg",
  store: () =>
    Layer.unwrapScoped(
      Effect.map(
        Effect.acquireRelease(Effect.sync(uniqueSchema), (schema) => dropSchema(url, schema)),
        (schema) => Store.layerPg({ url: Redacted.make(url), schema })
      )
    )
})

export const engines = (): ReadonlyArray<Engine> => {
  const url = postgresUrl()
  return url === undefined ? [sqliteEngine] : [sqliteEngine, pgEngine(url)]
}

/** Checks are due again at once, so each pass moves an order one step. */
export const testPolicy: FulfilmentPolicy = {
  firstCheckDelay: Duration.zero,
  maxCheckDelay: Duration.zero,
  fulfilmentDeadline: Duration.hours(24),
  retryDelay: Duration.zero
}

export const fastClient: Partial<HlConnectOptions> = { maxAttempts: 2 }

/** Reconciler + workflow + client + a fresh store. */
export const reconcilerEnv = (
  engine: Engine,
  sandbox: { readonly url: string },
  options: {
    readonly policy?: FulfilmentPolicy
    readonly client?: Partial<HlConnectOptions>
    readonly token?: string
  } = {}
) =>
  Reconciler.Default.pipe(
    Layer.provideMerge(Fulfilment.Default(options.policy ?? testPolicy)),
    Layer.provideMerge(engine.store()),
    Layer.provideMerge(
      HlConnect.Default({
        baseUrl: sandbox.url,
        accessToken: Redacted.make(options.token ?? SandboxToken),
        ...fastClient,
        ...options.client
      })
    )
  )

let nextOrder = 100_000 + Math.floor(Math.random() * 800_000) * 10

export const freshOrderNumber = () => String(++nextOrder)

/** A paid line with a real validation token (from its own, valid, client). */
export const seedPaid = (
  sandbox: { readonly url: string },
  options: {
    readonly asset?: number
    readonly expired?: boolean
    readonly orderNumber?: string
    readonly orderLineId?: string
    /** Ensemble parts registered with the line, each its own HL Connect order line. */
    readonly parts?: ReadonlyArray<{ readonly asset: string; readonly orderLineId: string }>
  } = {}
) =>
  Effect.gen(function* () {
    const hl = yield* HlConnect
    const asset = options.asset ?? 4000
    const validation = yield* hl.validatePurchase({ asset_id: asset, customer_ip: "192.0.2.1", quantity: 1 })
    const { line } = yield* OrderLines.OrderLines.create({
      orderNumber: options.orderNumber ?? freshOrderNumber(),
      orderLineId: options.orderLineId ?? "1",
      asset: String(asset),
      quantity: 1,
      unitPriceMinor: 399,
      totalPriceMinor: 399,
      currency: "USD",
      customerEmail: "a@b.example",
      customerName: "John Customer",
      validationToken: Redacted.make(validation.token),
      tokenExpiresAt: options.expired === true ? 1 : validation.exp_date * 1000,
      ...(options.parts === undefined ? {} : { parts: options.parts })
    })
    return line
  }).pipe(Effect.provide(provideClient(sandbox)))

/** Moves a line along a path of states directly in the store (to set up drift). */
export const forceStates = (line: OrderLines.OrderLine, path: ReadonlyArray<OrderLines.OrderLineState>) =>
  Effect.gen(function* () {
    const lines = yield* OrderLines.OrderLines
    let current = line
    for (const to of path) {
      current = yield* lines.transition({
        orderNumber: current.orderNumber,
        orderLineId: current.orderLineId,
        expectedVersion: current.version,
        to,
        ...(to === "needs_attention" ? { reason: "test" } : {})
      })
    }
    return current
  })

/** Everything about order lines that a pass could change, for before/after comparisons. */
export const snapshotLines = Effect.gen(function* () {
  const sql = yield* SqlClientTag
  const rows = yield* sql<
    Record<string, unknown>
  >`SELECT order_number, order_line_id, state, version, attempts, next_check_at, last_error, attention_reason FROM order_lines ORDER BY order_number, order_line_id`
  const events = yield* sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM outbound_events`
  return JSON.stringify({ rows, events: String(events[0]?.n) })
})
