/**
 * The ONE definition of a new `webhook_inbox` row, shared by `Inbox.appendBatch` (through
 * `@effect/sql`) and the SQLite inbox writer worker (raw better-sqlite3), so the two cannot
 * drift. Kept free of imports: the worker thread loads it on its own.
 */

/** Columns written on insert, in statement order (the rest take their defaults / NULL). */
export const inboxInsertColumns = [
  "event_id",
  "source",
  "event_type",
  "body",
  "received_at",
  "state",
  "attempts",
  "next_attempt_at",
  "updated_at",
  "trace_context"
] as const
export type InboxInsertColumn = (typeof inboxInsertColumns)[number]
export type InboxRowValue = string | number | null
export type InboxRow = { readonly [K in InboxInsertColumn]: InboxRowValue }

/** Duplicates are skipped, and only the ids actually inserted come back. */
export const inboxOnConflict = "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"

export interface InboundFields {
  readonly eventId: string
  readonly source: string
  readonly eventType: string
  readonly body: string
  readonly traceContext?: string | undefined
}

export interface AppendOutcome {
  readonly eventId: string
  /** `duplicate`: the event id was already stored (or appeared earlier in the same batch). */
  readonly outcome: "new" | "duplicate"
}

/** A freshly received event: pending, due now. */
export const newInboxRow = (event: InboundFields, now: number): InboxRow => ({
  event_id: event.eventId,
  source: event.source,
  event_type: event.eventType,
  body: event.body,
  received_at: now,
  state: "pending",
  attempts: 0,
  next_attempt_at: now,
  updated_at: now,
  trace_context: event.traceContext ?? null
})

/** The rows to insert: the first occurrence of each event id (a multi-row upsert cannot touch a key twice). */
export const rowsForBatch = (batch: ReadonlyArray<InboundFields>, now: number): ReadonlyArray<InboxRow> => {
  const firstSeen = new Map<string, InboundFields>()
  for (const event of batch) if (!firstSeen.has(event.eventId)) firstSeen.set(event.eventId, event)
  return Array.from(firstSeen.values(), (e) => newInboxRow(e, now))
}

/** Row values in `inboxInsertColumns` order, for positional parameters. */
export const rowValues = (row: InboxRow): ReadonlyArray<InboxRowValue> => inboxInsertColumns.map((c) => row[c])

/** SQLite's single-row INSERT (positional `?`), skipping a duplicate: `changes` is 1 when the row is new. */
export const sqliteInsertOne = `INSERT INTO webhook_inbox (${inboxInsertColumns.join(", ")}) VALUES (${inboxInsertColumns.map(() => "?").join(", ")}) ON CONFLICT (event_id) DO NOTHING`

/** Where `rowValues` puts the event id. */
export const eventIdPosition = inboxInsertColumns.indexOf("event_id")

/** Per event of the batch, in order: new if this batch inserted it (first occurrence only), else duplicate. */
export const outcomesFor = (
  batch: ReadonlyArray<InboundFields>,
  inserted: Iterable<string>
): ReadonlyArray<AppendOutcome> => {
  const fresh = new Set(inserted)
  return batch.map(
    (event): AppendOutcome => ({ eventId: event.eventId, outcome: fresh.delete(event.eventId) ? "new" : "duplicate" })
  )
}
