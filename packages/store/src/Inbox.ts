/**
 * The inbox: inbound webhooks stored once per event id, then claimed, retried, dead-lettered or
 * replayed by the apps that process them; listed with keyset pages and purged after retention.
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { Clock, Effect, Option, Schema } from "effect"
import { IllegalTransition, type InvalidInput, type LeaseLost, NotFound, type StorageError } from "./Errors.js"
import { DbInt, DbMillis, decodeInput, decodeRows, Identifier, storage } from "./internal/codec.js"
import { NewInboundBatch, type NewInboundEvent } from "./internal/inboundEvent.js"
import { type AppendOutcome, inboxOnConflict, outcomesFor, rowsForBatch } from "./internal/inboxRows.js"
import * as Keyset from "./internal/keyset.js"
import * as Leases from "./internal/leaseTable.js"
import { deleteEnded, type EndedTable, PurgeRequest } from "./internal/purge.js"
import { ClaimRequest, type Lease, LeaseMillis } from "./Lease.js"

export const InboxState = Schema.Literal("pending", "processed", "dead")
export type InboxState = typeof InboxState.Type

export { MaxBatchSize, MaxBodyBytes, NewInboundBatch, NewInboundEvent } from "./internal/inboundEvent.js"

export class InboxEvent extends Schema.Class<InboxEvent>("InboxEvent")({
  eventId: Schema.String,
  source: Schema.String,
  eventType: Schema.String,
  body: Schema.String,
  receivedAt: DbMillis,
  state: InboxState,
  attempts: DbInt,
  nextAttemptAt: DbMillis,
  lastError: Schema.OptionFromNullOr(Schema.String),
  processedAt: Schema.OptionFromNullOr(DbMillis),
  /** `TraceContext`: the trace that received it (NULL: untraced, or stored before traces). */
  traceContext: Schema.optional(Schema.NullOr(Schema.String))
}) {}

export type { AppendOutcome } from "./internal/inboxRows.js"
export { PurgeRequest } from "./internal/purge.js"

export interface ClaimedInboxEvent {
  readonly lease: Lease
  readonly event: InboxEvent
}

const InboxClaimRequest = Schema.Struct({ ...ClaimRequest.fields, source: Schema.optional(Identifier) })
export type InboxClaimRequest = typeof InboxClaimRequest.Type

const RetryRequest = Schema.Struct({
  error: Schema.String,
  nextAttemptAt: Schema.Int.pipe(Schema.nonNegative())
})
const MaxErrorChars = 2000

export const ListByStateRequest = Schema.Struct({
  state: InboxState,
  limit: Schema.Int.pipe(Schema.between(1, 500)),
  /** A `nextCursor` from the previous page, unchanged. */
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(1024))),
  /** Epoch ms: only events last updated (`updated_at`) at or after it: a dead or processed one when it got there, a pending one at its last attempt. */
  since: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
})
export type ListByStateRequest = typeof ListByStateRequest.Type

const inboxLeases: Leases.LeaseTable = {
  entity: "inbox event",
  table: "webhook_inbox",
  key: "event_id",
  dueColumn: "next_attempt_at",
  eligible: (sql) => sql`state = 'pending'`
}

const inboxEnded: EndedTable = {
  table: "webhook_inbox",
  key: "event_id"
}

export class Inbox extends Effect.Service<Inbox>()("@hlconnect/store/Inbox", {
  accessors: true,
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient
    const decodeEvents = decodeRows(InboxEvent, "inbox event")

    /**
     * Store a batch of received events in ONE transaction and ONE multi-row
     * statement (group commit). Each event is reported as new or duplicate;
     * a bad event rejects the whole batch before anything is written.
     */
    const appendBatch = (
      events: ReadonlyArray<NewInboundEvent>
    ): Effect.Effect<ReadonlyArray<AppendOutcome>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const batch = yield* decodeInput(NewInboundBatch)(events)
        const now = yield* Clock.currentTimeMillis
        const inserted = yield* sql.withTransaction(
          sql<{
            eventId: string
          }>`INSERT INTO webhook_inbox ${sql.insert(rowsForBatch(batch, now))} ${sql.literal(inboxOnConflict)}`
        )
        return outcomesFor(
          batch,
          inserted.map((r) => r.eventId)
        )
      }).pipe(storage, Effect.withSpan("Inbox.appendBatch"))

    const get = (eventId: string): Effect.Effect<Option.Option<InboxEvent>, InvalidInput | StorageError> =>
      decodeInput(Identifier)(eventId).pipe(
        Effect.flatMap((id) => sql`SELECT * FROM webhook_inbox WHERE event_id = ${id}`),
        Effect.flatMap(decodeEvents),
        Effect.map((rows) => Option.fromNullable(rows[0])),
        storage
      )

    /** Lease up to `limit` pending events that are due, oldest first. */
    const claim = (
      request: InboxClaimRequest
    ): Effect.Effect<ReadonlyArray<ClaimedInboxEvent>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(InboxClaimRequest)(request)
        const claimed = yield* sql.withTransaction(
          Leases.claim(sql, inboxLeases, {
            ...req,
            ...(req.source === undefined ? {} : { filter: sql`source = ${req.source}` })
          })
        )
        const events = yield* decodeEvents(claimed.rows)
        return events.map((event) => ({
          event,
          lease: Leases.leaseOf(claimed, event.eventId)
        }))
      }).pipe(storage, Effect.withSpan("Inbox.claim"))

    const renew = (lease: Lease, leaseMs: number): Effect.Effect<Lease, LeaseLost | InvalidInput | StorageError> =>
      decodeInput(LeaseMillis)(leaseMs).pipe(
        Effect.flatMap((ms) => Leases.renew(sql, inboxLeases, lease, ms)),
        storage
      )

    /** Done: the event will not be handed out again. Requires the lease. */
    const complete = (lease: Lease): Effect.Effect<void, LeaseLost | StorageError> =>
      Leases.finish(sql, inboxLeases, lease, (now) => ({ state: "processed", processedAt: now, lastError: null })).pipe(
        Effect.asVoid,
        storage
      )

    /** Failed this time; hand it out again at `nextAttemptAt`. Requires the lease. */
    const retryLater = (
      lease: Lease,
      options: { readonly error: string; readonly nextAttemptAt: number }
    ): Effect.Effect<void, LeaseLost | InvalidInput | StorageError> =>
      decodeInput(RetryRequest)(options).pipe(
        Effect.flatMap((opts) =>
          Leases.finish(sql, inboxLeases, lease, () => ({
            nextAttemptAt: opts.nextAttemptAt,
            lastError: opts.error.slice(0, MaxErrorChars)
          }))
        ),
        Effect.asVoid,
        storage
      )

    /** Give up on the event; it stays queryable and can be replayed. Requires the lease. */
    const deadLetter = (
      lease: Lease,
      options: { readonly error: string }
    ): Effect.Effect<void, LeaseLost | StorageError> =>
      Leases.finish(sql, inboxLeases, lease, () => ({
        state: "dead",
        lastError: options.error.slice(0, MaxErrorChars)
      })).pipe(Effect.asVoid, storage)

    const listDead = (limit: number): Effect.Effect<ReadonlyArray<InboxEvent>, InvalidInput | StorageError> =>
      decodeInput(Schema.Int.pipe(Schema.between(1, 500)))(limit).pipe(
        Effect.flatMap(
          (n) => sql`SELECT * FROM webhook_inbox WHERE state = 'dead' ORDER BY received_at, event_id LIMIT ${n}`
        ),
        Effect.flatMap(decodeEvents),
        storage
      )

    /**
     * Events in one state, oldest received first, keyset-paged on (received_at, event_id):
     * stable while events are added or change state between pages.
     */
    const listByState = (
      request: ListByStateRequest
    ): Effect.Effect<Keyset.Page<InboxEvent>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(ListByStateRequest)(request)
        const after = yield* Keyset.timeId.decode(req.cursor)
        const conditions = [sql`state = ${req.state}`]
        if (req.since !== undefined) conditions.push(sql`updated_at >= ${req.since}`)
        if (after !== undefined) {
          conditions.push(sql`(received_at > ${after[0]} OR (received_at = ${after[0]} AND event_id > ${after[1]}))`)
        }
        const rows = yield* sql`SELECT * FROM webhook_inbox WHERE ${sql.and(conditions)}
          ORDER BY received_at, event_id LIMIT ${req.limit + 1}`.pipe(Effect.flatMap(decodeEvents))
        return Keyset.timeId.page(rows, req.limit, (e) => [e.receivedAt, e.eventId])
      }).pipe(storage, Effect.withSpan("Inbox.listByState"))

    /** Put a dead event back in the queue, due now. */
    const replay = (
      eventId: string
    ): Effect.Effect<InboxEvent, NotFound | IllegalTransition | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const id = yield* decodeInput(Identifier)(eventId)
        const now = yield* Clock.currentTimeMillis
        const rows =
          yield* sql`UPDATE webhook_inbox SET state = 'pending', next_attempt_at = ${now}, updated_at = ${now}
          WHERE event_id = ${id} AND state = 'dead' RETURNING *`.pipe(Effect.flatMap(decodeEvents))
        const replayed = rows[0]
        if (replayed !== undefined) return replayed
        const current = yield* get(id)
        return yield* Option.match(current, {
          onNone: () => Effect.fail(new NotFound({ entity: "inbox event", id })),
          onSome: (e) => Effect.fail(new IllegalTransition({ entity: "inbox event", id, from: e.state, to: "pending" }))
        })
      }).pipe(storage)

    /**
     * Retention: delete up to `limit` processed or dead events last changed (`updated_at`) before
     * `before` (epoch ms); returns how many. Pending events are never touched. Once gone, a sender's
     * retry of the same id is taken as new, so keep them longer than senders retry.
     */
    const purgeEnded = (request: PurgeRequest): Effect.Effect<number, InvalidInput | StorageError> =>
      decodeInput(PurgeRequest)(request).pipe(
        Effect.flatMap((req) => deleteEnded(sql, inboxEnded, req)),
        storage,
        Effect.withSpan("Inbox.purgeEnded")
      )

    return {
      appendBatch,
      get,
      claim,
      renew,
      complete,
      retryLater,
      deadLetter,
      listDead,
      listByState,
      replay,
      purgeEnded
    } as const
  })
}) {}
