/**
 * Where group commits go. On PostgreSQL, `Inbox.appendBatch` (the driver is asynchronous).
 * On SQLite, the store's driver (better-sqlite3) is synchronous: its fsync would stall the
 * event loop for every commit, so the batch is written by a worker thread holding its own
 * connection to the same WAL file (synchronous=FULL). The statement mirrors
 * `Inbox.appendBatch` (same table, columns and ON CONFLICT rule) and is checked against it in tests.
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { Inbox, type InvalidInput, StorageError } from "@hlconnect/store"
import { Clock, Deferred, Effect, type Scope } from "effect"
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"

export interface InboxWriter {
  readonly kind: "store" | "sqlite-worker"
  readonly appendBatch: (
    events: ReadonlyArray<Inbox.NewInboundEvent>
  ) => Effect.Effect<ReadonlyArray<Inbox.AppendOutcome>, StorageError | InvalidInput>
}

/** The store's own `appendBatch`, on the caller's thread. */
export const store: Effect.Effect<InboxWriter, never, Inbox.Inbox> = Effect.map(Inbox.Inbox, (inbox) => ({
  kind: "store",
  appendBatch: inbox.appendBatch
}))

// Plain CommonJS run by the worker (eval), so it needs no build step of its own.
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads")
const Database = require(workerData.driver)
const db = new Database(workerData.filename)
db.pragma("journal_mode = WAL")
db.pragma("synchronous = FULL")
db.pragma("busy_timeout = 5000")
const statements = new Map()
const statementFor = (n) => {
  let s = statements.get(n)
  if (s === undefined) {
    const values = Array.from({ length: n }, () => "(?, ?, ?, ?, ?, 'pending', 0, ?, ?)").join(", ")
    s = db.prepare("INSERT INTO webhook_inbox (event_id, source, event_type, body, received_at, state, attempts, next_attempt_at, updated_at) VALUES " + values + " ON CONFLICT (event_id) DO NOTHING RETURNING event_id")
    statements.set(n, s)
  }
  return s
}
const insert = db.transaction((rows, now) => statementFor(rows.length).all(rows.flatMap((r) => [r.eventId, r.source, r.eventType, r.body, now, now, now])))
parentPort.on("message", (m) => {
  try {
    parentPort.postMessage({ id: m.id, inserted: insert(m.rows, m.now).map((r) => r.event_id) })
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) })
  }
})
`

/** better-sqlite3 as the store uses it (resolved through the store's own dependencies). */
const resolveDriver = (): string => {
  const fromHere = createRequire(import.meta.url)
  const fromStore = createRequire(fromHere.resolve("@hlconnect/store"))
  const fromClient = createRequire(fromStore.resolve("@effect/sql-sqlite-node"))
  return fromClient.resolve("better-sqlite3")
}

type Reply = { readonly id: number; readonly inserted?: ReadonlyArray<string>; readonly error?: string }

const isReply = (m: unknown): m is Reply => typeof m === "object" && m !== null && "id" in m && typeof m.id === "number"

/** Runs SQLite group commits on a worker thread. */
export const sqliteWorker = (filename: string): Effect.Effect<InboxWriter, StorageError, Scope.Scope> =>
  Effect.gen(function* () {
    const driver = yield* Effect.try({
      try: resolveDriver,
      catch: (cause) => new StorageError({ message: "cannot find better-sqlite3 for the inbox writer", cause })
    })
    const pending = new Map<number, Deferred.Deferred<ReadonlyArray<string>, StorageError>>()
    const failAll = (message: string) => {
      for (const d of pending.values()) Deferred.unsafeDone(d, Effect.fail(new StorageError({ message, cause: message })))
      pending.clear()
    }
    const worker = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const w = new Worker(workerSource, { eval: true, workerData: { driver, filename } })
        w.on("message", (m: unknown) => {
          if (!isReply(m)) return
          const d = pending.get(m.id)
          if (d === undefined) return
          pending.delete(m.id)
          Deferred.unsafeDone(
            d,
            m.error === undefined ? Effect.succeed(m.inserted ?? []) : Effect.fail(new StorageError({ message: m.error, cause: m.error }))
          )
        })
        w.on("error", (e) => failAll(`inbox writer failed: ${e.message}`))
        w.on("exit", () => failAll("inbox writer stopped"))
        return w
      }),
      (w) => Effect.promise(() => w.terminate())
    )
    let nextId = 0

    const appendBatch = (events: ReadonlyArray<Inbox.NewInboundEvent>) =>
      Effect.gen(function* () {
        const firstSeen = new Map<string, Inbox.NewInboundEvent>()
        for (const e of events) if (!firstSeen.has(e.eventId)) firstSeen.set(e.eventId, e)
        const rows = Array.from(firstSeen.values())
        const now = yield* Clock.currentTimeMillis
        const done = yield* Deferred.make<ReadonlyArray<string>, StorageError>()
        const id = nextId++
        pending.set(id, done)
        worker.postMessage({ id, rows, now })
        const fresh = new Set(yield* Deferred.await(done))
        return events.map((e): Inbox.AppendOutcome => ({ eventId: e.eventId, outcome: fresh.delete(e.eventId) ? "new" : "duplicate" }))
      })

    return { kind: "sqlite-worker", appendBatch } satisfies InboxWriter
  })

/** The worker on SQLite files, the store elsewhere (PostgreSQL, in-memory SQLite, or no driver found). */
export const make: Effect.Effect<InboxWriter, never, Inbox.Inbox | SqlClient | Scope.Scope> = Effect.gen(function* () {
  const sql = yield* SqlClient
  const fallback = yield* store
  const isSqlite = sql.onDialectOrElse({ sqlite: () => true, orElse: () => false })
  if (!isSqlite) return fallback
  const files = yield* sql<{ name: string; file: string }>`PRAGMA database_list`.pipe(Effect.orElseSucceed(() => []))
  const file = files.find((f) => f.name === "main")?.file ?? ""
  if (file === "") return fallback
  return yield* sqliteWorker(file).pipe(
    Effect.catchAll((e) => Effect.as(Effect.logWarning("inbox writer worker unavailable; committing on the main thread", e.message), fallback))
  )
})
