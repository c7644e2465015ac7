/**
 * Claim → complete throughput on SQLite and PostgreSQL, next to a plain
 * INSERT + UPDATE loop on the same engine (one autocommit statement each) as
 * the baseline. Run: `pnpm bench` (PostgreSQL half only when DATABASE_URL is set).
 * BENCH_ITEMS (default 2000) and BENCH_SECONDS (default 3) bound each row.
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { Console, Effect, type Layer, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Inbox } from "../src/Inbox.js"
import { layerPg, layerSqlite, pgClient, type StoreServices } from "../src/Store.js"

interface Row {
  readonly engine: string
  readonly workload: string
  readonly workers: number
  readonly items: number
  readonly seconds: number
  readonly perSecond: number
}

/** Each workload stops at `items` or after this many seconds, whichever comes first (keeps the bench bounded). */
const budgetSeconds = Number(process.env.BENCH_SECONDS ?? 3)

/** Run `workers` loops until `step` reports exhaustion or the time budget is spent; returns [done, seconds]. */
const race = <E, R>(workers: number, step: (w: number) => Effect.Effect<number, E, R>) =>
  Effect.gen(function* () {
    const start = performance.now()
    const deadline = start + budgetSeconds * 1000
    let done = 0
    yield* Effect.all(
      Array.from({ length: workers }, (_, w) =>
        Effect.gen(function* () {
          while (performance.now() < deadline) {
            const n = yield* step(w)
            if (n === 0) return
            done += n
          }
        })
      ),
      { concurrency: "unbounded", discard: true }
    )
    return [done, (performance.now() - start) / 1000] as const
  })

/** Baseline: one INSERT then one UPDATE per item, each its own autocommit. */
const baseline = (run: string, items: number, workers: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient
    const table = `bench_${run}`
    yield* sql.unsafe(`CREATE TABLE ${table} (id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at BIGINT NOT NULL)`)
    let next = 0
    return yield* race(workers, () =>
      Effect.gen(function* () {
        if (next >= items) return 0
        const id = `i-${next++}`
        yield* sql`INSERT INTO ${sql(table)} (id, state, updated_at) VALUES (${id}, 'pending', ${Date.now()})`
        yield* sql`UPDATE ${sql(table)} SET state = 'done', updated_at = ${Date.now()} WHERE id = ${id}`
        return 1
      })
    )
  })

/** Seed `items` inbox events (not timed); workers claim `batch` at a time and complete each. */
const claimComplete = (run: string, items: number, workers: number, batch: number) =>
  Effect.gen(function* () {
    const inbox = yield* Inbox
    for (let i = 0; i < items; i += 500) {
      const n = Math.min(500, items - i)
      yield* inbox.appendBatch(
        Array.from({ length: n }, (_, k) => ({
          eventId: `${run}-${i + k}`,
          source: run,
          eventType: "order.paid",
          body: "{}"
        }))
      )
    }
    const result = yield* race(workers, (w) =>
      Effect.gen(function* () {
        const claimed = yield* inbox.claim({ owner: `w${w}`, limit: batch, leaseMs: 60_000, source: run })
        for (const c of claimed) yield* inbox.complete(c.lease)
        return claimed.length
      })
    )
    // Leftovers (budget ran out) would slow the next row's claims; clear them untimed.
    const sql = yield* SqlClient
    yield* sql`DELETE FROM webhook_inbox`
    return result
  })

const measure = (engine: string, items: number) =>
  Effect.gen(function* () {
    const rows: Array<Row> = []
    let n = 0
    const record = (workload: string, workers: number, [done, seconds]: readonly [number, number]) =>
      rows.push({ engine, workload, workers, items: done, seconds, perSecond: done / seconds })
    for (const workers of [1, 4]) {
      record("baseline INSERT+UPDATE", workers, yield* baseline(`b${n++}`, items, workers))
      record("claim(1) → complete", workers, yield* claimComplete(`c${n++}`, items, workers, 1))
      record("claim(10) → complete", workers, yield* claimComplete(`c${n++}`, items, workers, 10))
    }
    return rows
  })

const printTable = (rows: ReadonlyArray<Row>) =>
  Effect.gen(function* () {
    const header = ["engine", "workload", "workers", "items", "seconds", "items/s", "vs baseline"]
    const lines = rows.map((r) => {
      const base = rows.find(
        (b) => b.engine === r.engine && b.workers === r.workers && b.workload.startsWith("baseline")
      )
      const ratio = base === undefined ? "" : `${(r.perSecond / base.perSecond).toFixed(2)}×`
      return [
        r.engine,
        r.workload,
        String(r.workers),
        String(r.items),
        r.seconds.toFixed(2),
        r.perSecond.toFixed(0),
        ratio
      ]
    })
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)))
    const fmt = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ")
    yield* Console.log(fmt(header))
    yield* Console.log(widths.map((w) => "-".repeat(w)).join("  "))
    for (const l of lines) yield* Console.log(fmt(l))
  })

const sqliteRun = (items: number) =>
  Effect.gen(function* () {
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "hlconnect-bench-"))),
      (d) => Effect.promise(() => rm(d, { recursive: true, force: true }))
    )
    return yield* measure("sqlite", items).pipe(Effect.provide(layerSqlite({ filename: join(dir, "hlconnect.db") })))
  }).pipe(Effect.scoped)

const pgRun = (url: string, items: number) =>
  Effect.gen(function* () {
    const schema = `bench_${randomBytes(4).toString("hex")}`
    const store: Layer.Layer<StoreServices | SqlClient, unknown> = layerPg({
      url: Redacted.make(url),
      schema,
      maxConnections: 8
    })
    const drop = Effect.gen(function* () {
      const sql = yield* SqlClient
      yield* sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`
    }).pipe(Effect.provide(pgClient({ url: Redacted.make(url) })), Effect.orDie)
    return yield* measure("postgres", items).pipe(Effect.provide(store), Effect.ensuring(drop))
  })

const main = Effect.gen(function* () {
  const items = Number(process.env.BENCH_ITEMS ?? 2000)
  yield* Console.log(`claim → complete vs INSERT+UPDATE baseline: up to ${items} items or ${budgetSeconds}s per row`)
  // Warm up the JIT and the file system once, so the first measured row is not penalised.
  yield* sqliteRun(100)
  const rows = yield* sqliteRun(items)
  const url = process.env.DATABASE_URL
  if (url === undefined || url === "") {
    yield* Console.log("PostgreSQL half skipped: DATABASE_URL is not set.")
  } else {
    rows.push(...(yield* pgRun(url, items)))
  }
  yield* printTable(rows)
})

Effect.runPromise(main).catch((error: unknown) => {
  process.stderr.write(`bench failed: ${String(error)}\n`)
  process.exitCode = 1
})
