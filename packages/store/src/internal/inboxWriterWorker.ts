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
import { MaxBatchSize, NewInboundEvent } from "./inboundEvent.js"
import { eventIdPosition, type InboxRowValue, newInboxRow, rowValues, sqliteInsertOne } from "./inboxRows.js"
import { type Reply, Request, WorkerData } from "./inboxWriterProtocol.js"

/** The part of better-sqlite3 used here (the package ships no type declarations). */
interface Statement {
  readonly run: (...params: ReadonlyArray<InboxRowValue>) => unknown
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

const decodeRequest = Schema.decodeUnknownSync(Request)

const port = parentPort
if (port === null) throw new Error("inboxWriterWorker must run as a worker thread")
const send = (reply: Reply) => port.postMessage(reply)
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e))

const settings = Schema.decodeUnknownSync(WorkerData)(workerData)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null
/** better-sqlite3's `run` result: `{ changes }` is 1 when the INSERT wrote the row (0: a duplicate, skipped). */
const isNew = (result: unknown): boolean => isRecord(result) && result.changes === 1
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
  // One row per run of one statement: cheaper here than a multi-row INSERT … RETURNING.
  const insert = conn.prepare(sqliteInsertOne)
  /**
   * Inserts the rows in one transaction, in order; per row, whether it was new. A repeated id
   * (stored before, or earlier in the same rows) is skipped: the first occurrence wins.
   */
  const insertAll = (rows: ReadonlyArray<ReadonlyArray<InboxRowValue>>): ReadonlyArray<boolean> => {
    begin.run()
    try {
      const fresh = rows.map((row) => isNew(insert.run(...row)))
      commit.run()
      return fresh
    } catch (e) {
      // A failed COMMIT may already have rolled back.
      if (conn.inTransaction) rollback.run()
      throw e
    }
  }
  /** The ids `rows` inserted. */
  const append = (rows: ReadonlyArray<ReadonlyArray<InboxRowValue>>): ReadonlyArray<string> => {
    const fresh = insertAll(rows)
    return rows.flatMap((row, i) => (fresh[i] === true ? [String(row[eventIdPosition])] : []))
  }
  /** The admitted event, valid to store, with the request's trace context (not the admission's to decide). */
  const storable = (
    event: unknown,
    traceContext: string | undefined
  ): Either.Either<NewInboundEvent, AdmissionOutcome> =>
    Either.mapBoth(validateEvent(event), {
      onLeft: (error): AdmissionOutcome => ({
        _tag: "NotStored",
        message: `admitted event is not storable: ${problem(error)}`
      }),
      onRight: (e) => (traceContext === undefined ? e : { ...e, traceContext })
    })

  /** One raw request's verdict: an event to store (right), or the outcome to answer at once (left). */
  const verdictFor = (
    admit: (raw: RawInbound) => unknown,
    item: RawInbound
  ): Either.Either<NewInboundEvent, AdmissionOutcome> => {
    let returned: unknown
    try {
      returned = admit(item)
    } catch (e) {
      return Either.left({ _tag: "NotStored", message: `admission failed: ${messageOf(e)}` })
    }
    // The usual verdict is checked where it matters, the event to store; any other is decoded whole.
    if (isRecord(returned) && returned._tag === "Admit" && returned.event !== undefined)
      return storable(returned.event, item.traceContext)
    const verdict = decodeVerdict(returned)
    if (Either.isLeft(verdict))
      return Either.left({
        _tag: "NotStored",
        message: `admission returned a malformed verdict: ${problem(verdict.left)}`
      })
    const v = verdict.right
    return v._tag === "Reject"
      ? Either.left({ _tag: "Rejected", status: v.status, error: v.error, message: v.message, reason: v.reason })
      : storable(v.event, item.traceContext)
  }

  /**
   * The group being formed: events admitted from every `Admit` received since the last commit
   * (where each one's outcome goes), and the replies waiting for that commit. Messages that
   * arrive during a commit's fsync are admitted together on the next turn and share the next
   * commit, so the sender can hand over small chunks early without costing an fsync each.
   */
  let events: Array<NewInboundEvent> = []
  let slots: Array<{ readonly results: Array<AdmissionOutcome>; readonly at: number }> = []
  let replies: Array<{ readonly id: number; readonly results: Array<AdmissionOutcome> }> = []
  let scheduled = false

  const commitGroup = () => {
    scheduled = false
    const group = { events, slots, replies }
    events = []
    slots = []
    replies = []
    if (group.events.length > 0) {
      try {
        const now = Date.now()
        const fresh = insertAll(group.events.map((event) => rowValues(newInboxRow(event, now))))
        group.slots.forEach((slot, k) => {
          const event = group.events[k]
          if (event !== undefined)
            slot.results[slot.at] = {
              _tag: "Stored",
              eventId: event.eventId,
              outcome: fresh[k] === true ? "new" : "duplicate"
            }
        })
      } catch (e) {
        const message = messageOf(e)
        for (const slot of group.slots) slot.results[slot.at] = { _tag: "NotStored", message }
      }
    }
    for (const reply of group.replies) send({ _tag: "AdmitResults", id: reply.id, results: reply.results })
  }

  /** Admits one message's requests into the group; commits at the end of this turn (or now, when full). */
  const admitInto = (admit: (raw: RawInbound) => unknown, id: number, items: ReadonlyArray<RawInbound>) => {
    // One statement per commit: keep the group within the batch limit.
    if (events.length + items.length > MaxBatchSize) commitGroup()
    const results: Array<AdmissionOutcome> = new Array(items.length)
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      if (item === undefined) continue
      const verdict = verdictFor(admit, item)
      if (Either.isRight(verdict)) {
        events.push(verdict.right)
        slots.push({ results, at: i })
      } else {
        results[i] = verdict.left
      }
    }
    replies.push({ id, results })
    if (!scheduled) {
      scheduled = true
      setImmediate(commitGroup)
    }
  }

  port.on("message", (raw: unknown) => {
    let request: Request
    try {
      request = decodeRequest(raw)
    } catch {
      return
    }
    if (request._tag === "Admit") {
      if (admission === undefined) {
        send({ _tag: "AppendFailed", id: request.id, message: "this worker was started without an admission module" })
        return
      }
      admitInto(admission, request.id, request.items)
      return
    }
    // Whatever is admitted commits first: batches are committed in the order they arrive.
    if (scheduled) commitGroup()
    if (request._tag === "Close") {
      conn.close()
      port.close()
      return
    }
    try {
      send({ _tag: "Appended", id: request.id, inserted: append(request.rows) })
    } catch (e) {
      send({ _tag: "AppendFailed", id: request.id, message: messageOf(e) })
    }
  })
}
