/**
 * The outbox: order events with a per-order sequence and one delivery per matching subscriber,
 * claimed and delivered by the relay; retried, dead-lettered, replayed, listed and purged.
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { Clock, Effect, Option, Schema } from "effect"
import { IllegalTransition, InvalidInput, type LeaseLost, NotFound, type StorageError } from "./Errors.js"
import {
  DbInt,
  DbJson,
  DbMillis,
  decodeInput,
  decodeRows,
  encodeJson,
  Identifier,
  newId,
  storage
} from "./internal/codec.js"
import * as Keyset from "./internal/keyset.js"
import * as Leases from "./internal/leaseTable.js"
import { deleteEnded, type EndedTable, PurgeRequest, skipLocked } from "./internal/purge.js"
import { ClaimRequest, type Lease, LeaseMillis } from "./Lease.js"
import { matchesFilter, publicColumns, Subscriber } from "./Subscribers.js"
import { atomically } from "./internal/atomically.js"
import * as TraceContext from "./TraceContext.js"

export { PurgeRequest } from "./internal/purge.js"

/** Largest outbound payload (as JSON) accepted. */
export const MaxPayloadBytes = 256 * 1024
const MaxErrorChars = 2000

export class OutboundEvent extends Schema.Class<OutboundEvent>("OutboundEvent")({
  eventId: Schema.String,
  orderNumber: Schema.String,
  /** 1, 2, 3… per order, so subscribers can order and de-duplicate. */
  sequence: DbInt,
  eventType: Schema.String,
  payload: DbJson,
  createdAt: DbMillis,
  /** `TraceContext` of the change that emitted it: each delivery continues it. */
  traceContext: Schema.optional(Schema.NullOr(Schema.String))
}) {}

export const DeliveryState = Schema.Literal("pending", "delivered", "dead")
export type DeliveryState = typeof DeliveryState.Type

export class Delivery extends Schema.Class<Delivery>("Delivery")({
  deliveryId: Schema.String,
  eventId: Schema.String,
  subscriberId: Schema.String,
  state: DeliveryState,
  attempts: DbInt,
  nextAttemptAt: DbMillis,
  lastStatusCode: Schema.OptionFromNullOr(DbInt),
  lastError: Schema.OptionFromNullOr(Schema.String),
  deliveredAt: Schema.OptionFromNullOr(DbMillis),
  deadAt: Schema.OptionFromNullOr(DbMillis),
  createdAt: DbMillis,
  updatedAt: DbMillis
}) {}

export interface ClaimedDelivery {
  readonly lease: Lease
  readonly delivery: Delivery
  readonly event: OutboundEvent
}

export const NewOutboundEvent = Schema.Struct({
  orderNumber: Identifier,
  eventType: Schema.String.pipe(
    Schema.maxLength(128),
    Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, { message: () => "must be like order.completed" })
  ),
  payload: Schema.Unknown
})
export type NewOutboundEvent = typeof NewOutboundEvent.Type

const DeliveryClaimRequest = Schema.Struct({ ...ClaimRequest.fields, subscriberId: Schema.optional(Identifier) })
export type DeliveryClaimRequest = typeof DeliveryClaimRequest.Type

const StatusCode = Schema.Int.pipe(Schema.between(100, 599))
const DeliveredRequest = Schema.Struct({ statusCode: StatusCode })
const RetryRequest = Schema.Struct({
  statusCode: Schema.optional(Schema.NullOr(StatusCode)),
  error: Schema.String,
  nextAttemptAt: Schema.Int.pipe(Schema.nonNegative())
})
const DeadLetterRequest = Schema.Struct({
  statusCode: Schema.optional(Schema.NullOr(StatusCode)),
  error: Schema.String
})
const ListDeadRequest = Schema.Struct({
  subscriberId: Schema.optional(Identifier),
  limit: Schema.Int.pipe(Schema.between(1, 500)),
  /** The `deliveryId` of the last item of the previous page. */
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(128)))
})

export const ListDeliveriesRequest = Schema.Struct({
  state: DeliveryState,
  subscriberId: Schema.optional(Identifier),
  limit: Schema.Int.pipe(Schema.between(1, 500)),
  /** A `nextCursor` from the previous page, unchanged. */
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(1024))),
  /** Epoch ms: only deliveries last updated (`updated_at`) at or after it: a dead or delivered one when it got there, a pending one at its last attempt. */
  since: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
})
export type ListDeliveriesRequest = typeof ListDeliveriesRequest.Type

/** `lastError` of a delivery created for (or stopped by) a disabled subscriber: kept, replayable once re-enabled. */
export const subscriberDisabledError = (reason: Option.Option<string>): string =>
  `subscriber disabled: ${Option.getOrElse(reason, () => "no reason given")}; enable it, then replay`

const deliveryLeases: Leases.LeaseTable = {
  entity: "delivery",
  table: "deliveries",
  key: "delivery_id",
  dueColumn: "next_attempt_at",
  eligible: (sql) => sql`state = 'pending'`
}

const deliveriesEnded: EndedTable = {
  table: "deliveries",
  key: "delivery_id"
}

export class Outbox extends Effect.Service<Outbox>()("@hlconnect/store/Outbox", {
  accessors: true,
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient
    const decodeEvents = decodeRows(OutboundEvent, "outbound event")
    const decodeDeliveries = decodeRows(Delivery, "delivery")
    const decodeSequence = decodeRows(Schema.Struct({ lastSequence: DbInt }), "sequence")
    const decodeTargets = decodeRows(Subscriber, "subscriber")

    /**
     * Record an event for an order with the next per-order sequence number and
     * fan it out to one delivery per matching subscriber: pending for an enabled one; for a
     * disabled one dead-lettered at once with the reason (never dropped: replayable after
     * re-enabling). Call inside `Store.transaction` with the state change that caused it.
     */
    const append = (
      input: NewOutboundEvent
    ): Effect.Effect<
      { readonly event: OutboundEvent; readonly deliveries: ReadonlyArray<Delivery> },
      InvalidInput | StorageError
    > =>
      Effect.gen(function* () {
        const req = yield* decodeInput(NewOutboundEvent)(input)
        const payload = yield* encodeJson(req.payload, "payload")
        if (Buffer.byteLength(payload, "utf8") > MaxPayloadBytes) {
          return yield* new InvalidInput({
            field: "payload",
            message: `must be at most ${MaxPayloadBytes} bytes as JSON`
          })
        }
        const now = yield* Clock.currentTimeMillis
        const eventId = yield* newId
        const traceContext = yield* TraceContext.current
        return yield* atomically(sql)(
          Effect.gen(function* () {
            // The counter row is locked by this upsert until commit, so concurrent
            // appends for one order get distinct, gap-free sequence numbers.
            const seqRows = yield* sql`INSERT INTO order_event_sequences (order_number, last_sequence)
              VALUES (${req.orderNumber}, 1)
              ON CONFLICT (order_number) DO UPDATE SET last_sequence = order_event_sequences.last_sequence + 1
              RETURNING last_sequence`.pipe(Effect.flatMap(decodeSequence))
            const sequence = seqRows[0]?.lastSequence ?? 1
            const events = yield* sql`INSERT INTO outbound_events ${sql.insert({
              eventId,
              orderNumber: req.orderNumber,
              sequence,
              eventType: req.eventType,
              payload,
              createdAt: now,
              traceContext
            })} RETURNING *`.pipe(Effect.flatMap(decodeEvents))
            const subscribers = yield* sql`SELECT ${sql.literal(publicColumns)} FROM subscribers`.pipe(
              Effect.flatMap(decodeTargets)
            )
            const targets = subscribers.filter((s) => matchesFilter(s.eventFilter, req.eventType))
            const rows = yield* Effect.forEach(targets, (s) =>
              Effect.map(newId, (deliveryId) => ({
                deliveryId,
                eventId,
                subscriberId: s.subscriberId,
                state: s.enabled ? "pending" : "dead",
                attempts: 0,
                nextAttemptAt: now,
                lastError: s.enabled ? null : subscriberDisabledError(s.disabledReason),
                deadAt: s.enabled ? null : now,
                createdAt: now,
                updatedAt: now
              }))
            )
            const deliveries =
              rows.length === 0
                ? []
                : yield* sql`INSERT INTO deliveries ${sql.insert(rows)} RETURNING *`.pipe(
                    Effect.flatMap(decodeDeliveries)
                  )
            const event = events[0]
            if (event === undefined) return yield* Effect.dieMessage("INSERT … RETURNING returned no row")
            return { event, deliveries }
          })
        )
      }).pipe(storage, Effect.withSpan("Outbox.append", { captureStackTrace: false }))

    const eventsForOrder = (
      orderNumber: string
    ): Effect.Effect<ReadonlyArray<OutboundEvent>, InvalidInput | StorageError> =>
      decodeInput(Identifier)(orderNumber).pipe(
        Effect.flatMap((id) => sql`SELECT * FROM outbound_events WHERE order_number = ${id} ORDER BY sequence`),
        Effect.flatMap(decodeEvents),
        storage
      )

    const getDelivery = (deliveryId: string): Effect.Effect<Delivery, NotFound | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const id = yield* decodeInput(Identifier)(deliveryId)
        const rows = yield* sql`SELECT * FROM deliveries WHERE delivery_id = ${id}`.pipe(
          Effect.flatMap(decodeDeliveries)
        )
        const row = rows[0]
        if (row === undefined) return yield* new NotFound({ entity: "delivery", id })
        return row
      }).pipe(storage)

    /** Lease due deliveries (optionally for one subscriber), each with its event. */
    const claimDue = (
      request: DeliveryClaimRequest
    ): Effect.Effect<ReadonlyArray<ClaimedDelivery>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(DeliveryClaimRequest)(request)
        return yield* sql.withTransaction(
          Effect.gen(function* () {
            const claimed = yield* Leases.claim(sql, deliveryLeases, {
              ...req,
              ...(req.subscriberId === undefined ? {} : { filter: sql`subscriber_id = ${req.subscriberId}` })
            })
            const deliveries = yield* decodeDeliveries(claimed.rows)
            if (deliveries.length === 0) return []
            const events = yield* sql`SELECT * FROM outbound_events WHERE ${sql.in("event_id", [
              ...new Set(deliveries.map((d) => d.eventId))
            ])}`.pipe(Effect.flatMap(decodeEvents))
            const byId = new Map(events.map((e) => [e.eventId, e]))
            return yield* Effect.forEach(deliveries, (delivery) => {
              const event = byId.get(delivery.eventId)
              return event === undefined
                ? Effect.dieMessage(`delivery ${delivery.deliveryId} references missing event ${delivery.eventId}`)
                : Effect.succeed<ClaimedDelivery>({
                    delivery,
                    event,
                    lease: Leases.leaseOf(claimed, delivery.deliveryId)
                  })
            })
          })
        )
      }).pipe(storage, Effect.withSpan("Outbox.claimDue"))

    const renew = (lease: Lease, leaseMs: number): Effect.Effect<Lease, LeaseLost | InvalidInput | StorageError> =>
      decodeInput(LeaseMillis)(leaseMs).pipe(
        Effect.flatMap((ms) => Leases.renew(sql, deliveryLeases, lease, ms)),
        storage
      )

    const finishWith = (lease: Lease, changes: (now: number) => Record<string, unknown>) =>
      Leases.finish(sql, deliveryLeases, lease, changes).pipe(
        Effect.flatMap((row) => decodeDeliveries([row])),
        Effect.flatMap((rows) =>
          rows[0] === undefined ? Effect.dieMessage("no delivery row") : Effect.succeed(rows[0])
        ),
        storage
      )

    /** The subscriber acknowledged. Requires the lease. */
    const markDelivered = (
      lease: Lease,
      options: { readonly statusCode: number }
    ): Effect.Effect<Delivery, LeaseLost | InvalidInput | StorageError> =>
      decodeInput(DeliveredRequest)(options).pipe(
        Effect.flatMap((o) =>
          finishWith(lease, (now) => ({
            state: "delivered",
            lastStatusCode: o.statusCode,
            lastError: null,
            deliveredAt: now
          }))
        )
      )

    /** Attempt failed; try again at `nextAttemptAt`. Requires the lease. */
    const scheduleRetry = (
      lease: Lease,
      options: { readonly statusCode?: number | null; readonly error: string; readonly nextAttemptAt: number }
    ): Effect.Effect<Delivery, LeaseLost | InvalidInput | StorageError> =>
      decodeInput(RetryRequest)(options).pipe(
        Effect.flatMap((o) =>
          finishWith(lease, () => ({
            lastStatusCode: o.statusCode ?? null,
            lastError: o.error.slice(0, MaxErrorChars),
            nextAttemptAt: o.nextAttemptAt
          }))
        )
      )

    /** Stop retrying; the delivery stays queryable and replayable. Requires the lease. */
    const deadLetter = (
      lease: Lease,
      options: { readonly statusCode?: number | null; readonly error: string }
    ): Effect.Effect<Delivery, LeaseLost | InvalidInput | StorageError> =>
      decodeInput(DeadLetterRequest)(options).pipe(
        Effect.flatMap((o) =>
          finishWith(lease, (now) => ({
            state: "dead",
            lastStatusCode: o.statusCode ?? null,
            lastError: o.error.slice(0, MaxErrorChars),
            deadAt: now
          }))
        )
      )

    const listDeadLettered = (
      request: typeof ListDeadRequest.Type
    ): Effect.Effect<Keyset.Page<Delivery>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(ListDeadRequest)(request)
        const conditions = [sql`state = 'dead'`]
        if (req.subscriberId !== undefined) conditions.push(sql`subscriber_id = ${req.subscriberId}`)
        if (req.cursor !== undefined) conditions.push(sql`delivery_id > ${req.cursor}`)
        const rows = yield* sql`SELECT * FROM deliveries WHERE ${sql.and(conditions)}
          ORDER BY delivery_id LIMIT ${req.limit + 1}`.pipe(Effect.flatMap(decodeDeliveries))
        const items = rows.slice(0, req.limit)
        const last = items[items.length - 1]
        return {
          items,
          nextCursor: rows.length > req.limit && last !== undefined ? Option.some(last.deliveryId) : Option.none()
        }
      }).pipe(storage)

    /**
     * Deliveries in one state (optionally of one subscriber), oldest first, keyset-paged on
     * (created_at, delivery_id): stable while deliveries are added or change state between pages.
     */
    const listDeliveries = (
      request: ListDeliveriesRequest
    ): Effect.Effect<Keyset.Page<Delivery>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(ListDeliveriesRequest)(request)
        const after = yield* Keyset.timeId.decode(req.cursor)
        const conditions = [sql`state = ${req.state}`]
        if (req.subscriberId !== undefined) conditions.push(sql`subscriber_id = ${req.subscriberId}`)
        if (req.since !== undefined) conditions.push(sql`updated_at >= ${req.since}`)
        if (after !== undefined) {
          conditions.push(sql`(created_at > ${after[0]} OR (created_at = ${after[0]} AND delivery_id > ${after[1]}))`)
        }
        const rows = yield* sql`SELECT * FROM deliveries WHERE ${sql.and(conditions)}
          ORDER BY created_at, delivery_id LIMIT ${req.limit + 1}`.pipe(Effect.flatMap(decodeDeliveries))
        return Keyset.timeId.page(rows, req.limit, (d) => [d.createdAt, d.deliveryId])
      }).pipe(storage, Effect.withSpan("Outbox.listDeliveries"))

    /** Re-queue a dead-lettered delivery, due now, with a fresh attempt count. */
    const replay = (
      deliveryId: string
    ): Effect.Effect<Delivery, NotFound | IllegalTransition | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const id = yield* decodeInput(Identifier)(deliveryId)
        const now = yield* Clock.currentTimeMillis
        const rows = yield* sql`UPDATE deliveries
          SET state = 'pending', attempts = 0, next_attempt_at = ${now}, dead_at = NULL, updated_at = ${now}
          WHERE delivery_id = ${id} AND state = 'dead' RETURNING *`.pipe(Effect.flatMap(decodeDeliveries))
        const replayed = rows[0]
        if (replayed !== undefined) return replayed
        const current = yield* getDelivery(id)
        return yield* new IllegalTransition({ entity: "delivery", id, from: current.state, to: "pending" })
      }).pipe(storage)

    /**
     * Retention, in one transaction: delete up to `limit` delivered or dead deliveries last changed
     * (`updated_at`) before `before` (epoch ms), then up to `limit` outbound events created before it
     * that no delivery refers to any more. Pending deliveries, and the events they carry, are never
     * touched; nor are the per-order sequence counters, so an order's numbers keep increasing.
     */
    const purgeEnded = (
      request: PurgeRequest
    ): Effect.Effect<{ readonly deliveries: number; readonly events: number }, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(PurgeRequest)(request)
        return yield* atomically(sql)(
          Effect.gen(function* () {
            const deliveries = yield* deleteEnded(sql, deliveriesEnded, req)
            // No new delivery is ever added to an old event (only `append` inserts them, with a new
            // one), so an event found without deliveries here stays without.
            const events = yield* sql`DELETE FROM outbound_events WHERE event_id IN (
                SELECT event_id FROM outbound_events e
                WHERE created_at < ${req.before}
                  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.event_id)
                ORDER BY created_at
                LIMIT ${req.limit}
                ${skipLocked(sql)}
              )
              RETURNING event_id`
            return { deliveries, events: events.length }
          })
        )
      }).pipe(storage, Effect.withSpan("Outbox.purgeEnded"))

    return {
      append,
      eventsForOrder,
      getDelivery,
      claimDue,
      renew,
      markDelivered,
      scheduleRetry,
      deadLetter,
      listDeadLettered,
      listDeliveries,
      replay,
      purgeEnded
    } as const
  })
}) {}
