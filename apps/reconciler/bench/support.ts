/** Bench helpers: a bulk-seeded SQLite store and the reconciler wired over it. */
import { SqlClient } from "@effect/sql/SqlClient"
import { type ServerProcess, serverScripts, startServerProcess } from "@hlconnect/conformance/bench"
import { HlConnect } from "@hlconnect/core"
import { defaultPolicy, Fulfilment } from "@hlconnect/fulfilment"
import { Store } from "@hlconnect/store"
import { Effect, Layer, Redacted } from "effect"
import { Reconciler } from "../src/Reconciler.js"

export const BenchToken = "bench-token"

/**
 * The sandbox in its own process, pinned to CPU 0 (the bench is on CPU 1) when `taskset` exists,
 * adding a latency of `L` ms to every call and fulfilling at once.
 */
export const startLatentSandbox = (L: number): Promise<ServerProcess> =>
  startServerProcess({
    script: serverScripts.sandbox,
    cpu: 0,
    env: {
      SANDBOX_TOKENS: BenchToken,
      SANDBOX_LATENCY_MS: String(L),
      SANDBOX_FULFILMENT_DELAY: "0 millis",
      LOG_LEVEL: "error"
    }
  })

/** `n` paid orders (one line each) due now, in chunks, inside one transaction per chunk. */
export const seedPaid = (n: number, token: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient
    const now = Date.now()
    const chunk = 500
    for (let start = 0; start < n; start += chunk) {
      const numbers = Array.from({ length: Math.min(chunk, n - start) }, (_, i) => String(1_000_000 + start + i))
      yield* sql.withTransaction(
        Effect.gen(function* () {
          yield* sql`INSERT INTO orders ${sql.insert(numbers.map((orderNumber) => ({ orderNumber, nextCheckAt: now, attempts: 0, createdAt: now, updatedAt: now })))}`
          yield* sql`INSERT INTO order_lines ${sql.insert(
            numbers.map((orderNumber) => ({
              orderNumber,
              orderLineId: "1",
              asset: "4000",
              quantity: 1,
              unitPriceMinor: 399,
              totalPriceMinor: 399,
              currency: "USD",
              customerEmail: "a@b.example",
              customerName: "John Customer",
              validationToken: token,
              tokenExpiresAt: now + 3_600_000,
              state: "paid",
              attempts: 0,
              nextCheckAt: now,
              version: 1,
              createdAt: now,
              updatedAt: now
            }))
          )}`
        })
      )
    }
  })

export const benchLayer = (filename: string, baseUrl: string) =>
  Reconciler.Default.pipe(
    Layer.provideMerge(Fulfilment.Default(defaultPolicy)),
    Layer.provideMerge(Store.layerSqlite({ filename })),
    Layer.provideMerge(HlConnect.Default({ baseUrl, accessToken: Redacted.make(BenchToken), maxInFlight: 256 }))
  )
