/**
 * Worker thread of the SQLite `InboxWriter`: owns its own better-sqlite3 connection to the
 * store's file and runs the group commits, so their fsync (synchronous=FULL) blocks this
 * thread instead of the event loop. The statement comes from `inboxRows.ts`, shared with
 * `Inbox.appendBatch`. With an admission module it also decides, per raw request, what is
 * committed (see `Admission`), so the receiving thread only moves bytes.
 */
import { Either, ParseResult, Schema } from "effect"
import { createRequire } from "node:module"
import { parentPort, workerData } from "node:worker_threads"
import { type AdmissionOutcome, type RawInbound, Verdict } from "../Admission.js"
import { NewInboundEvent } from "./inboundEvent.js"
import { type InboxRowValue, outcomesFor, rowsForBatch, rowValues, sqliteInsertStatement } from "./inboxRows.js"
import { type Reply, Request, WorkerData } from "./inboxWriterProtocol.js"

/** The part of better-sqlite3 used here (the package ships no type declarations). */
interface Statement {
  readonly run: (...params: ReadonlyArray<InboxRowValue>) => unknown
  readonly all: (...params: ReadonlyArray<InboxRowValue>) => ReadonlyArray<unknown>
}
interface Database {
  readonly pragma: (source: string) => unknown
  readonly prepare: (source: string) => Statement
  readonly close: () => unknown
  readonly inTransaction: boolean
}
type DatabaseConstructor = new (filename: string) => Database

const isConstructor = (u: unknown): u is DatabaseConstructor => typeof u === "function"

/**
 * better-sqlite3 is the store's driver only through @effect/sql-sqlite-node, and pnpm's
 * strict layout hides it from this package, so it is resolved the way that client resolves
 * it (rather than declared a second time in package.json, where the versions could differ).
 */
const loadDriver = (): DatabaseConstructor => {
  const fromStore = createRequire(import.meta.url)
  const fromClient = createRequire(fromStore.resolve("@effect/sql-sqlite-node"))
  const driver: unknown = fromClient(fromClient.resolve("better-sqlite3"))
  if (!isConstructor(driver)) throw new Error("better-sqlite3 did not export a Database constructor")
  return driver
}

const Inserted = Schema.Array(Schema.Struct({ event_id: Schema.String }))
const decodeInserted = Schema.decodeUnknownSync(Inserted)
const decodeRequest = Schema.decodeUnknownSync(Request)

const port = parentPort
if (port === null) throw new Error("inboxWriterWorker must run as a worker thread")
const send = (reply: Reply) => port.postMessage(reply)
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e))

const settings = Schema.decodeUnknownSync(WorkerData)(workerData)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null
const decodeVerdict = Schema.decodeUnknownEither(Verdict)
const validateEvent = Schema.decodeUnknownEither(NewInboundEvent, { errors: "first" })
const problem = (error: ParseResult.ParseError) => ParseResult.TreeFormatter.formatErrorSync(error)

/** The admission function named by `settings.admission`, or undefined (append-only worker). */
const loadAdmission = async (): Promise<((raw: RawInbound) => unknown) | undefined> => {
  if (settings.admission === undefined) return undefined
  const module: unknown = await import(settings.admission.url)
  const make = isRecord(module) ? module.makeAdmission : undefined
  if (typeof make !== "function") throw new Error(`${settings.admission.url} does not export makeAdmission`)
  const admit: unknown = make(settings.admission.options)
  if (typeof admit !== "function") throw new Error("makeAdmission did not return a function")
  return (raw) => admit(raw)
}

const open = (): Database => {
  const { filename } = settings
  const Driver = loadDriver()
  const db = new Driver(filename)
  // Same durability as the store's own connection (Store.sqliteClient).
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = FULL")
  db.pragma("busy_timeout = 5000")
  return db
}

let db: Database | undefined
let admission: ((raw: RawInbound) => unknown) | undefined
try {
  admission = await loadAdmission()
  db = open()
  send({ _tag: "Ready" })
} catch (e) {
  send({ _tag: "StartFailed", message: messageOf(e) })
  port.close()
}

if (db !== undefined) {
  const conn = db
  const begin = conn.prepare("BEGIN IMMEDIATE")
  const commit = conn.prepare("COMMIT")
  const rollback = conn.prepare("ROLLBACK")
  // One prepared statement per batch size seen (at most MaxBatchSize of them).
  const inserts = new Map<number, Statement>()
  const insertFor = (n: number): Statement => {
    let s = inserts.get(n)
    if (s === undefined) {
      s = conn.prepare(sqliteInsertStatement(n))
      inserts.set(n, s)
    }
    return s
  }
  const append = (rows: ReadonlyArray<ReadonlyArray<InboxRowValue>>): ReadonlyArray<string> => {
    begin.run()
    try {
      const inserted = decodeInserted(insertFor(rows.length).all(...rows.flat()))
      commit.run()
      return inserted.map((r) => r.event_id)
    } catch (e) {
      // A failed COMMIT may already have rolled back.
      if (conn.inTransaction) rollback.run()
      throw e
    }
  }
  /** Admits what it can, commits the admitted in one transaction, answers per item in order. */
  const admitBatch = (admit: (raw: RawInbound) => unknown, items: ReadonlyArray<RawInbound>): ReadonlyArray<AdmissionOutcome> => {
    const results: Array<AdmissionOutcome> = new Array(items.length)
    const admitted: Array<NewInboundEvent> = []
    const positions: Array<number> = []
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      if (item === undefined) continue
      let verdict: Either.Either<Verdict, ParseResult.ParseError>
      try {
        verdict = decodeVerdict(admit(item))
      } catch (e) {
        results[i] = { _tag: "NotStored", message: `admission failed: ${messageOf(e)}` }
        continue
      }
      if (Either.isLeft(verdict)) {
        results[i] = { _tag: "NotStored", message: `admission returned a malformed verdict: ${problem(verdict.left)}` }
        continue
      }
      const v = verdict.right
      if (v._tag === "Reject") {
        results[i] = { _tag: "Rejected", status: v.status, error: v.error, message: v.message, reason: v.reason }
        continue
      }
      const event = validateEvent(v.event)
      if (Either.isLeft(event)) {
        results[i] = { _tag: "NotStored", message: `admitted event is not storable: ${problem(event.left)}` }
        continue
      }
      admitted.push(event.right)
      positions.push(i)
    }
    if (admitted.length > 0) {
      try {
        const outcomes = outcomesFor(admitted, append(rowsForBatch(admitted, Date.now()).map(rowValues)))
        outcomes.forEach((o, k) => {
          const at = positions[k]
          if (at !== undefined) results[at] = { _tag: "Stored", eventId: o.eventId, outcome: o.outcome }
        })
      } catch (e) {
        const message = messageOf(e)
        for (const at of positions) results[at] = { _tag: "NotStored", message }
      }
    }
    return results
  }

  port.on("message", (raw: unknown) => {
    let request: Request
    try {
      request = decodeRequest(raw)
    } catch {
      return
    }
    if (request._tag === "Close") {
      conn.close()
      port.close()
      return
    }
    if (request._tag === "Admit") {
      if (admission === undefined) {
        send({ _tag: "AppendFailed", id: request.id, message: "this worker was started without an admission module" })
        return
      }
      send({ _tag: "AdmitResults", id: request.id, results: admitBatch(admission, request.items) })
      return
    }
    try {
      send({ _tag: "Appended", id: request.id, inserted: append(request.rows) })
    } catch (e) {
      send({ _tag: "AppendFailed", id: request.id, message: messageOf(e) })
    }
  })
}
