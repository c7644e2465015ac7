/**
 * The order-line repository: vendor order lines and their orders in SQL — create, read, page,
 * compare-and-set moves checked against the state machine (`OrderLineState.ts`), and order
 * leases for the reconciler. The model and inputs are in `OrderModel.ts`; both are re-exported
 * here, so `OrderLines.OrderLine`, `OrderLines.canTransition` … keep working.
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { Clock, Effect, Option, Redacted, Schema } from "effect"
import { IllegalTransition, InvalidInput, type LeaseLost, NotFound, StaleVersion, type StorageError } from "./Errors.js"
import { atomically } from "./internal/atomically.js"
import {
  DbInt,
  DbMillis,
  decodeInput,
  decodeRows,
  encodeJson,
  Identifier,
  NonNegativeInt,
  storage
} from "./internal/codec.js"
import * as Keyset from "./internal/keyset.js"
import * as Leases from "./internal/leaseTable.js"
import { ClaimRequest, type Lease, LeaseMillis } from "./Lease.js"
import {
  AuditCandidatesRequest,
  ListByStateRequest,
  NewOrderLine,
  type Order,
  type OrderClaim,
  OrderLine,
  OrderLineKey,
  RecordCheckRequest,
  ReleaseRequest,
  ReplaceTokenRequest,
  TransitionRequest
} from "./OrderModel.js"
import { canTransition, OrderLineState, terminalStates, tokenReplaceableStates } from "./OrderLineState.js"
import * as TraceContext from "./TraceContext.js"

export * from "./OrderLineState.js"
export * from "./OrderModel.js"

const MaxSnapshotBytes = 64 * 1024
/**
 * Span options of the per-order steps: no captured call site. The span's name already says where
 * it was made (the site is always the same line here), and capturing one cost ~100 µs CPU per
 * `transition` under the reconciler — a third of the step.
 */
const hotPath = { captureStackTrace: false } as const
const MaxErrorChars = 2000

/** Lines in key order: (order number, line id). */
const lineKeyset = Keyset.keyset(Schema.Tuple(Schema.String, Schema.String))
/** Orders in order-number order; the key is kept as `{ after }` on the wire. */
const orderKeyset = Keyset.keyset(Schema.Struct({ after: Schema.String }))

const OrderNumbers = Schema.Array(Identifier).pipe(Schema.maxItems(500))
const OrderNumberRow = Schema.Struct({ orderNumber: Schema.String })
const CountRow = Schema.Struct({ n: DbInt })

const OrderRow = Schema.Struct({
  orderNumber: Schema.String,
  nextCheckAt: Schema.OptionFromNullOr(DbMillis),
  attempts: DbInt
})

const orderLeases: Leases.LeaseTable = {
  entity: "order",
  table: "orders",
  key: "order_number",
  dueColumn: "next_check_at",
  eligible: (sql) => sql`next_check_at IS NOT NULL`
}

export class OrderLines extends Effect.Service<OrderLines>()("@hlconnect/store/OrderLines", {
  accessors: true,
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient
    const decodeLines = decodeRows(OrderLine, "order line")
    const decodeOrders = decodeRows(OrderRow, "order")
    const decodeOrderNumbers = decodeRows(OrderNumberRow, "order")

    /** Pull the order's next check earlier (never later) so a newly due line is seen. */
    const scheduleOrder = (orderNumber: string, at: number, now: number) =>
      sql`UPDATE orders SET
            next_check_at = CASE WHEN next_check_at IS NULL OR next_check_at > ${at} THEN ${at} ELSE next_check_at END,
            updated_at = ${now}
          WHERE order_number = ${orderNumber}`

    const selectLine = (key: OrderLineKey) =>
      sql`SELECT * FROM order_lines WHERE order_number = ${key.orderNumber} AND order_line_id = ${key.orderLineId}`.pipe(
        Effect.flatMap(decodeLines),
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    /** The lines of many orders in one query, by order number (each in line-id order). */
    const linesOf = (orderNumbers: ReadonlyArray<string>) =>
      (orderNumbers.length === 0
        ? Effect.succeed<ReadonlyArray<OrderLine>>([])
        : sql`SELECT * FROM order_lines WHERE ${sql.in("order_number", orderNumbers)}
            ORDER BY order_number, order_line_id`.pipe(Effect.flatMap(decodeLines))
      ).pipe(
        Effect.map((lines): ReadonlyMap<string, ReadonlyArray<OrderLine>> => {
          const byOrder = new Map<string, Array<OrderLine>>()
          for (const line of lines) {
            const list = byOrder.get(line.orderNumber)
            if (list === undefined) byOrder.set(line.orderNumber, [line])
            else list.push(line)
          }
          return byOrder
        })
      )

    const mustExist = (key: OrderLineKey) =>
      selectLine(key).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () =>
              Effect.fail(new NotFound({ entity: "order line", id: `${key.orderNumber}/${key.orderLineId}` })),
            onSome: Effect.succeed
          })
        )
      )

    /** Insert a line (and its order). Re-delivering the same line is not an error: `created` tells. */
    const create = (
      input: NewOrderLine
    ): Effect.Effect<{ readonly line: OrderLine; readonly created: boolean }, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const line = yield* decodeInput(NewOrderLine)(input)
        const now = yield* Clock.currentTimeMillis
        const nextCheckAt = line.nextCheckAt ?? now
        const traceContext = yield* TraceContext.current
        return yield* sql.withTransaction(
          Effect.gen(function* () {
            yield* sql`INSERT INTO orders (order_number, next_check_at, attempts, created_at, updated_at)
              VALUES (${line.orderNumber}, ${nextCheckAt}, 0, ${now}, ${now})
              ON CONFLICT (order_number) DO NOTHING`
            const inserted = yield* sql`INSERT INTO order_lines ${sql.insert({
              orderNumber: line.orderNumber,
              orderLineId: line.orderLineId,
              asset: line.asset,
              quantity: line.quantity,
              unitPriceMinor: line.unitPriceMinor,
              totalPriceMinor: line.totalPriceMinor,
              currency: line.currency,
              customerEmail: line.customerEmail,
              customerName: line.customerName ?? null,
              validationToken: line.validationToken === undefined ? null : Redacted.value(line.validationToken),
              tokenExpiresAt: line.tokenExpiresAt ?? null,
              state: "paid",
              attentionReason: null,
              attempts: 0,
              nextCheckAt,
              lastError: null,
              remoteSnapshot: null,
              parts: line.parts === undefined ? null : JSON.stringify(line.parts),
              version: 1,
              traceContext,
              createdAt: now,
              updatedAt: now
            })} ON CONFLICT (order_number, order_line_id) DO NOTHING RETURNING order_line_id`
            if (inserted.length > 0) yield* scheduleOrder(line.orderNumber, nextCheckAt, now)
            const stored = yield* mustExist(line).pipe(Effect.orDie)
            return { line: stored, created: inserted.length > 0 }
          })
        )
      }).pipe(storage, Effect.withSpan("OrderLines.create"))

    const get = (key: OrderLineKey): Effect.Effect<OrderLine, NotFound | InvalidInput | StorageError> =>
      decodeInput(OrderLineKey)(key).pipe(Effect.flatMap(mustExist), storage)

    /** The order with all its lines, or `None` when the order number is unknown. */
    const findOrder = (orderNumber: string): Effect.Effect<Option.Option<Order>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const id = yield* decodeInput(Identifier)(orderNumber)
        const rows =
          yield* sql`SELECT order_number, next_check_at, attempts FROM orders WHERE order_number = ${id}`.pipe(
            Effect.flatMap(decodeOrders)
          )
        const order = rows[0]
        if (order === undefined) return Option.none()
        const lines = yield* linesOf([id])
        return Option.some({
          orderNumber: order.orderNumber,
          nextCheckAt: order.nextCheckAt,
          lines: lines.get(id) ?? []
        })
      }).pipe(storage)

    /**
     * Many orders in two queries (for batch readers such as the GraphQL facade), keyed by order
     * number; unknown numbers are absent. At most 500 numbers per call.
     */
    const findOrders = (
      orderNumbers: ReadonlyArray<string>
    ): Effect.Effect<ReadonlyMap<string, Order>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const ids = yield* decodeInput(OrderNumbers)(orderNumbers)
        if (ids.length === 0) return new Map<string, Order>()
        const orders =
          yield* sql`SELECT order_number, next_check_at, attempts FROM orders WHERE ${sql.in("order_number", ids)}`.pipe(
            Effect.flatMap(decodeOrders)
          )
        const byOrder = yield* linesOf(ids)
        return new Map(
          orders.map((order): [string, Order] => [
            order.orderNumber,
            {
              orderNumber: order.orderNumber,
              nextCheckAt: order.nextCheckAt,
              lines: byOrder.get(order.orderNumber) ?? []
            }
          ])
        )
      }).pipe(storage)

    /**
     * Order numbers with at least one line in `state`, in order, cursor-paged by order; each item
     * carries the cursor that resumes right after it (for connection edges).
     */
    const listOrdersByState = (
      request: ListByStateRequest
    ): Effect.Effect<
      Keyset.Page<{ readonly orderNumber: string; readonly cursor: string }>,
      InvalidInput | StorageError
    > =>
      Effect.gen(function* () {
        const req = yield* decodeInput(ListByStateRequest)(request)
        const after = yield* orderKeyset.decode(req.cursor)
        const rows = yield* (
          after === undefined
            ? sql`SELECT DISTINCT order_number FROM order_lines WHERE state = ${req.state}
                ORDER BY order_number LIMIT ${req.limit + 1}`
            : sql`SELECT DISTINCT order_number FROM order_lines WHERE state = ${req.state} AND order_number > ${after.after}
                ORDER BY order_number LIMIT ${req.limit + 1}`
        ).pipe(Effect.flatMap(decodeOrderNumbers))
        const page = orderKeyset.page(rows, req.limit, (row) => ({ after: row.orderNumber }))
        return {
          items: page.items.map((row) => ({
            orderNumber: row.orderNumber,
            cursor: orderKeyset.encode({ after: row.orderNumber })
          })),
          nextCursor: page.nextCursor
        }
      }).pipe(storage)

    /** Lines in one state, in key order, cursor-paged (stable under concurrent inserts). */
    const listByState = (
      request: ListByStateRequest
    ): Effect.Effect<Keyset.Page<OrderLine>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(ListByStateRequest)(request)
        const after = yield* lineKeyset.decode(req.cursor)
        const rows = yield* (
          after === undefined
            ? sql`SELECT * FROM order_lines WHERE state = ${req.state}
                ORDER BY order_number, order_line_id LIMIT ${req.limit + 1}`
            : sql`SELECT * FROM order_lines WHERE state = ${req.state}
                AND (order_number > ${after[0]} OR (order_number = ${after[0]} AND order_line_id > ${after[1]}))
                ORDER BY order_number, order_line_id LIMIT ${req.limit + 1}`
        ).pipe(Effect.flatMap(decodeLines))
        return lineKeyset.page(rows, req.limit, (line) => [line.orderNumber, line.orderLineId] as const)
      }).pipe(storage)

    /**
     * Compare-and-set update. The row must still be at `expectedVersion`;
     * otherwise `StaleVersion`, and nothing is written.
     */
    const casUpdate = (
      req: RecordCheckRequest,
      to: OrderLineState | undefined,
      reason: string | undefined
    ): Effect.Effect<OrderLine, IllegalTransition | StaleVersion | NotFound | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        if (to === "needs_attention" && reason === undefined) {
          return yield* new InvalidInput({ field: "reason", message: "is required when moving to needs_attention" })
        }
        const snapshot =
          req.remoteSnapshot === undefined ? undefined : yield* encodeJson(req.remoteSnapshot, "remoteSnapshot")
        if (snapshot !== undefined && Buffer.byteLength(snapshot, "utf8") > MaxSnapshotBytes) {
          return yield* new InvalidInput({
            field: "remoteSnapshot",
            message: `must be at most ${MaxSnapshotBytes} bytes as JSON`
          })
        }
        const now = yield* Clock.currentTimeMillis
        const id = `${req.orderNumber}/${req.orderLineId}`
        // Write first, read only on failure: the state precondition is part of the
        // UPDATE, so the check is atomic, and on SQLite the transaction never has to
        // upgrade a read lock (which another process could make fail with BUSY).
        const fromStates = to === undefined ? undefined : OrderLineState.literals.filter((s) => canTransition(s, to))
        const nextCheckAt =
          // Terminal and parked lines are nobody's to check again unless the caller says when.
          to !== undefined && (terminalStates.includes(to) || to === "needs_attention") && req.nextCheckAt === undefined
            ? null
            : req.nextCheckAt
        const changes: Record<string, unknown> = {
          version: req.expectedVersion + 1,
          updatedAt: now,
          traceContext: yield* TraceContext.current
        }
        if (to !== undefined) {
          changes.state = to
          changes.attentionReason = to === "needs_attention" ? (reason ?? null) : null
        }
        if (nextCheckAt !== undefined) changes.nextCheckAt = nextCheckAt
        if (req.lastError !== undefined) changes.lastError = req.lastError?.slice(0, MaxErrorChars) ?? null
        if (snapshot !== undefined) changes.remoteSnapshot = snapshot
        if (req.attempts !== undefined) changes.attempts = req.attempts
        return yield* atomically(sql)(
          Effect.gen(function* () {
            const updated =
              fromStates !== undefined && fromStates.length === 0
                ? []
                : yield* sql`UPDATE order_lines SET ${sql.update(changes)}
                    WHERE order_number = ${req.orderNumber} AND order_line_id = ${req.orderLineId}
                      AND version = ${req.expectedVersion}
                      ${fromStates === undefined ? sql.literal("") : sql`AND ${sql.in("state", fromStates)}`}
                    RETURNING *`.pipe(Effect.flatMap(decodeLines))
            const line = updated[0]
            if (line === undefined) {
              const current = yield* mustExist(req)
              if (to !== undefined && current.version === req.expectedVersion && !canTransition(current.state, to)) {
                return yield* new IllegalTransition({ entity: "order line", id, from: current.state, to })
              }
              return yield* new StaleVersion({
                entity: "order line",
                id,
                expected: req.expectedVersion,
                actual: current.version
              })
            }
            if (nextCheckAt !== undefined && nextCheckAt !== null) {
              yield* scheduleOrder(req.orderNumber, nextCheckAt, now)
            }
            return line
          })
        )
      }).pipe(storage)

    /** Move a line to `to`, checked against the state machine and compare-and-set on `expectedVersion`. */
    const transition = (
      request: TransitionRequest
    ): Effect.Effect<OrderLine, IllegalTransition | StaleVersion | NotFound | InvalidInput | StorageError> =>
      decodeInput(TransitionRequest)(request).pipe(
        Effect.flatMap((req) => casUpdate(req, req.to, req.reason)),
        Effect.withSpan("OrderLines.transition", hotPath)
      )

    /** Record a check (attempts, next check, last error, remote snapshot) without changing state. */
    const recordCheck = (
      request: RecordCheckRequest
    ): Effect.Effect<OrderLine, IllegalTransition | StaleVersion | NotFound | InvalidInput | StorageError> =>
      decodeInput(RecordCheckRequest)(request).pipe(Effect.flatMap((req) => casUpdate(req, undefined, undefined)))

    /**
     * Give a line a fresh validation token (compare-and-set on `expectedVersion`). Allowed
     * while the line is `paid` or `needs_attention`; a `needs_attention` line goes back to
     * `paid` in the same update (reason and last error cleared), so it is registered again.
     */
    const replaceValidationToken = (
      request: ReplaceTokenRequest
    ): Effect.Effect<OrderLine, IllegalTransition | StaleVersion | NotFound | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(ReplaceTokenRequest)(request)
        const now = yield* Clock.currentTimeMillis
        const nextCheckAt = req.nextCheckAt ?? now
        const id = `${req.orderNumber}/${req.orderLineId}`
        const traceContext = yield* TraceContext.current
        return yield* sql.withTransaction(
          Effect.gen(function* () {
            // State precondition inside the UPDATE, as in casUpdate: atomic, no read-then-write.
            const updated = yield* sql`UPDATE order_lines SET
                validation_token = ${Redacted.value(req.token)},
                token_expires_at = ${req.tokenExpiresAt ?? null},
                state = 'paid',
                attention_reason = NULL,
                last_error = CASE WHEN state = 'needs_attention' THEN NULL ELSE last_error END,
                attempts = CASE WHEN state = 'needs_attention' THEN 0 ELSE attempts END,
                next_check_at = ${nextCheckAt},
                version = ${req.expectedVersion + 1},
                updated_at = ${now},
                trace_context = ${traceContext}
              WHERE order_number = ${req.orderNumber} AND order_line_id = ${req.orderLineId}
                AND version = ${req.expectedVersion} AND ${sql.in("state", tokenReplaceableStates)}
              RETURNING *`.pipe(Effect.flatMap(decodeLines))
            const line = updated[0]
            if (line === undefined) {
              const current = yield* mustExist(req)
              if (current.version === req.expectedVersion) {
                return yield* new IllegalTransition({
                  entity: "order line",
                  id,
                  from: current.state,
                  to: "paid (new validation token)"
                })
              }
              return yield* new StaleVersion({
                entity: "order line",
                id,
                expected: req.expectedVersion,
                actual: current.version
              })
            }
            yield* scheduleOrder(req.orderNumber, nextCheckAt, now)
            return line
          })
        )
      }).pipe(storage, Effect.withSpan("OrderLines.replaceValidationToken"))

    /**
     * Lease up to `limit` orders whose next check is due. One worker then owns
     * every line of each claimed order until the lease expires or is released.
     */
    const claimDueOrders = (
      request: ClaimRequest
    ): Effect.Effect<ReadonlyArray<OrderClaim>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(ClaimRequest)(request)
        return yield* sql.withTransaction(
          Effect.gen(function* () {
            const claimed = yield* Leases.claim(sql, orderLeases, req)
            const orders = yield* decodeOrders(claimed.rows)
            const lines = yield* linesOf(orders.map((order) => order.orderNumber))
            return orders.map(
              (order): OrderClaim => ({
                lease: Leases.leaseOf(claimed, order.orderNumber),
                attempts: order.attempts,
                lines: lines.get(order.orderNumber) ?? []
              })
            )
          })
        )
      }).pipe(storage, Effect.withSpan("OrderLines.claimDueOrders", hotPath))

    /** How many orders `claimDueOrders` would lease at `at` (a pass's expected total, for progress). */
    const countDueOrders = (at: number): Effect.Effect<number, InvalidInput | StorageError> =>
      decodeInput(NonNegativeInt)(at).pipe(
        Effect.flatMap((millis) => Leases.countDue(sql, orderLeases, millis)),
        Effect.flatMap(decodeRows(CountRow, "order count")),
        Effect.map((rows) => rows[0]?.n ?? 0),
        storage
      )

    const renewOrderLease = (
      lease: Lease,
      leaseMs: number
    ): Effect.Effect<Lease, LeaseLost | InvalidInput | StorageError> =>
      decodeInput(LeaseMillis)(leaseMs).pipe(
        Effect.flatMap((ms) => Leases.renew(sql, orderLeases, lease, ms)),
        storage
      )

    /**
     * Give the order back. `nextCheckAt` omitted: the earliest next check of
     * its unfinished lines (none left: no further checks). Requires the lease.
     */
    const releaseOrder = (
      lease: Lease,
      options: { readonly nextCheckAt?: number | null } = {}
    ): Effect.Effect<void, LeaseLost | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const opts = yield* decodeInput(ReleaseRequest)(options)
        const now = yield* Clock.currentTimeMillis
        const nextCheck =
          opts.nextCheckAt === undefined
            ? sql`(SELECT MIN(next_check_at) FROM order_lines
                   WHERE order_number = ${lease.itemId}
                     AND state NOT IN ('completed', 'failed', 'cancelled'))`
            : sql`${opts.nextCheckAt}`
        const rows = yield* sql`UPDATE orders
          SET next_check_at = ${nextCheck}, lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = ${now}
          WHERE order_number = ${lease.itemId} AND lease_id = ${lease.leaseId} AND lease_expires_at > ${now}
          RETURNING order_number`
        if (rows.length === 0) {
          return yield* Effect.fail(Leases.lost(orderLeases, lease))
        }
      }).pipe(storage)

    /**
     * Orders whose lines have all ended (completed, cancelled, failed), the last within the window:
     * the audit pass's candidates, least recently audited first (never audited before all), at most
     * `limit`. Nothing else reads ended lines again.
     */
    const listAuditCandidates = (
      request: AuditCandidatesRequest
    ): Effect.Effect<ReadonlyArray<string>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(AuditCandidatesRequest)(request)
        const rows = yield* sql`SELECT o.order_number FROM orders o
          WHERE o.order_number IN (SELECT order_number FROM order_lines
            WHERE state IN ('completed', 'failed', 'cancelled') AND updated_at >= ${req.endedSince})
          AND NOT EXISTS (SELECT 1 FROM order_lines a WHERE a.order_number = o.order_number
            AND a.state NOT IN ('completed', 'failed', 'cancelled'))
          ORDER BY COALESCE(o.audited_at, -1), o.order_number LIMIT ${req.limit}`.pipe(
          Effect.flatMap(decodeOrderNumbers)
        )
        return rows.map((row) => row.orderNumber)
      }).pipe(storage)

    /** Note that the audit pass read this order now (it goes to the back of the audit queue). */
    const markAudited = (orderNumber: string): Effect.Effect<void, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const id = yield* decodeInput(Identifier)(orderNumber)
        const now = yield* Clock.currentTimeMillis
        yield* sql`UPDATE orders SET audited_at = ${now} WHERE order_number = ${id}`
      }).pipe(storage)

    return {
      listAuditCandidates,
      markAudited,
      create,
      get,
      findOrder,
      findOrders,
      listByState,
      listOrdersByState,
      transition,
      recordCheck,
      replaceValidationToken,
      claimDueOrders,
      countDueOrders,
      renewOrderLease,
      releaseOrder
    } as const
  })
}) {}
