/**
 * The worker of `reference.ts`: HMAC check, JSON.parse, and one durable commit per group of
 * whatever arrived since the last one (the relay's own writer works the same way, with the
 * full verdict). Bench code only.
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { parentPort, workerData } from "node:worker_threads"

interface Statement {
  readonly run: (...params: ReadonlyArray<unknown>) => unknown
}
interface Database {
  readonly pragma: (source: string) => unknown
  readonly prepare: (source: string) => Statement
}
type DatabaseConstructor = new (filename: string) => Database
const isConstructor = (u: unknown): u is DatabaseConstructor => typeof u === "function"
const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

// The store's driver, found the way the store finds it (pnpm hides it from this package).
const fromStore = createRequire(fileURLToPath(import.meta.resolve("@hlconnect/store")))
const fromClient = createRequire(fromStore.resolve("@effect/sql-sqlite-node"))
const Driver: unknown = fromClient(fromClient.resolve("better-sqlite3"))
if (
  !isConstructor(Driver) ||
  !isRecord(workerData) ||
  typeof workerData.filename !== "string" ||
  !(workerData.key instanceof Uint8Array)
) {
  throw new Error("reference worker: bad start")
}
const key = Buffer.from(workerData.key)
const db = new Driver(workerData.filename)
db.pragma("journal_mode = WAL")
db.pragma("synchronous = FULL")
// The relay's own inbox table (the file is migrated by the store before this starts), so both pay for the same rows.
const insert = db.prepare(
  "INSERT INTO webhook_inbox (event_id, source, event_type, body, received_at, state, next_attempt_at, updated_at) VALUES (?, 'commerce', ?, ?, ?, 'pending', ?, ?) ON CONFLICT (event_id) DO NOTHING"
)
const begin = db.prepare("BEGIN IMMEDIATE")
const commit = db.prepare("COMMIT")
const utf8 = new TextDecoder("utf-8", { fatal: true })

const port = parentPort
if (port === null) throw new Error("reference worker: not a worker")

let rows: Array<readonly [string, string, string, number, number, number]> = []
let replies: Array<{ readonly id: number; readonly statuses: ReadonlyArray<number> }> = []
let armed = false

const commitGroup = () => {
  armed = false
  if (rows.length > 0) {
    begin.run()
    for (const row of rows) insert.run(...row)
    commit.run()
  }
  port.postMessage({ replies })
  rows = []
  replies = []
}

const status = (item: unknown): number => {
  if (
    !isRecord(item) ||
    typeof item.id !== "string" ||
    typeof item.timestamp !== "string" ||
    typeof item.signature !== "string"
  )
    return 401
  if (!(item.body instanceof Uint8Array)) return 400
  const expected = createHmac("sha256", key).update(`${item.id}.${item.timestamp}.`).update(item.body).digest()
  const given = Buffer.from(item.signature.slice(3), "base64")
  if (given.length !== expected.length || !timingSafeEqual(expected, given)) return 401
  const text = utf8.decode(item.body)
  const json: unknown = JSON.parse(text)
  if (!isRecord(json) || typeof json.type !== "string") return 422
  const now = Date.now()
  rows.push([item.id, json.type, text, now, now, now])
  return 202
}

port.on("message", (m: unknown) => {
  if (!isRecord(m) || typeof m.id !== "number" || !Array.isArray(m.items)) return
  replies.push({ id: m.id, statuses: m.items.map(status) })
  if (!armed) {
    armed = true
    setImmediate(commitGroup)
  }
})
port.postMessage("ready")
