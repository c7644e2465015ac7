/**
 * A second OS process for the PostgreSQL concurrency test: claims inbox items
 * from the same schema as the test process and reports what it got on stdout.
 * Usage: DATABASE_URL=… STORE_SCHEMA=… WORKER_OWNER=… node --import tsx test/claim-worker.ts
 *    or: SQLITE_FILE=… WORKER_OWNER=… node --import tsx test/claim-worker.ts
 */
import { Effect, Redacted } from "effect"
import { Inbox } from "../src/Inbox.js"
import { layerPg, layerSqlite } from "../src/Store.js"

const url = process.env.DATABASE_URL ?? ""
const schema = process.env.STORE_SCHEMA ?? ""
const owner = process.env.WORKER_OWNER ?? "child"
const sqliteFile = process.env.SQLITE_FILE

const program = Effect.gen(function* () {
  const inbox = yield* Inbox
  process.stdout.write("READY\n")
  const claimed: Array<string> = []
  let idle = 0
  // Keep going until the queue has been empty a few times in a row.
  while (idle < 3) {
    const batch = yield* inbox.claim({ owner, limit: 5, leaseMs: 60_000 })
    if (batch.length === 0) {
      idle++
      yield* Effect.sleep("20 millis")
    } else {
      idle = 0
      claimed.push(...batch.map((c) => c.event.eventId))
    }
  }
  process.stdout.write(`${JSON.stringify({ owner, claimed })}\n`)
}).pipe(
  Effect.provide(
    sqliteFile === undefined
      ? layerPg({ url: Redacted.make(url), schema, maxConnections: 2 })
      : layerSqlite({ filename: sqliteFile })
  )
)

Effect.runPromise(program).catch((error: unknown) => {
  process.stderr.write(`claim-worker failed: ${String(error)}\n`)
  process.exit(1)
})
