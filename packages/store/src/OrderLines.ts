import { SqlClient } from "@effect/sql/SqlClient"
import { CustomerName, EmailAddress, SingleLineText, ValidationTokenText } from "@hlconnect/core"
import { Clock, Effect, Option, Redacted, Schema } from "effect"
import { IllegalTransition, InvalidInput, type LeaseLost, NotFound, StaleVersion, type StorageError } from "./Errors.js"
import {
  boundedText,
  DbInt,
  DbJson,
  DbMillis,
  decodeInput,
  decodeRows,
  encodeJson,
  Identifier,
  NonNegativeInt,
  PositiveInt,
  storage
} from "./internal/codec.js"
import * as Leases from "./internal/lease.js"
import { ClaimRequest, Lease } from "./Lease.js"
import { atomically } from "./internal/atomically.js"
import * as TraceContext from "./TraceContext.js"

// ---------------------------------------------------------------------------
// State machine
// ---------------------------------------------------------------------------

export const OrderLineState = Schema.Literal(
  "paid",
  "registering",
  "registered",
  "processing",
  "completed",
  "failed",
  "cancel_requested",
  "cancelled",
  "needs_attention"
)
export type OrderLineState = typeof OrderLineState.Type

export const terminalStates: ReadonlyArray<OrderLineState> = ["completed", "failed", "cancelled"]

/**
 * Allowed moves. Terminal states only lead to `needs_attention` — so a remote
 * contradiction is flagged rather than silently rewriting history — except that
 * a completed line may be refunded (`cancel_requested`), as HL Connect lets a
 * vendor cancel a fulfilled line. `needs_attention` is where an operator or the
 * reconciler resolves a line to whatever state is true.
 */
export const allowedTransitions: { readonly [S in OrderLineState]: ReadonlyArray<OrderLineState> } = {
  paid: ["registering", "cancel_requested", "failed", "needs_attention"],
  registering: ["registered", "failed", "cancel_requested", "needs_attention"],
  registered: ["processing", "completed", "failed", "cancel_requested", "needs_attention"],
  processing: ["completed", "failed", "cancel_requested", "needs_attention"],
  cancel_requested: ["cancelled", "needs_attention"],
  cancelled: ["needs_attention"],
  completed: ["cancel_requested", "needs_attention"],
  failed: ["needs_attention"],
  // An operator (or the reconciler) may resolve a flagged line to any other state.
  needs_attention: OrderLineState.literals.filter((state) => state !== "needs_attention")
}

export const canTransition = (from: OrderLineState, to: OrderLineState): boolean =>
  allowedTransitions[from].includes(to)

// ---------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------

/** One vendor order line as stored. Field encodings match the database columns. */
export class OrderLine extends Schema.Class<OrderLine>("OrderLine")({
  orderNumber: Schema.String,
  orderLineId: Schema.String,
  asset: Schema.String,
  quantity: DbInt,
  unitPriceMinor: DbInt,
  totalPriceMinor: DbInt,
  currency: Schema.String,
  customerEmail: Schema.String,
  customerName: Schema.OptionFromNullOr(Schema.String),
  /** The vendor validation token is a credential: redacted in logs and prints. */
  validationToken: Schema.OptionFromNullOr(Schema.Redacted(Schema.String)),
  tokenExpiresAt: Schema.OptionFromNullOr(DbMillis),
  state: OrderLineState,
  attentionReason: Schema.OptionFromNullOr(Schema.String),
  attempts: DbInt,
  nextCheckAt: Schema.OptionFromNullOr(DbMillis),
  lastError: Schema.OptionFromNullOr(Schema.String),
  remoteSnapshot: Schema.OptionFromNullOr(DbJson),
  /** Ensemble parts registered with this line (each an HL Connect order line of its own). */
  parts: Schema.OptionFromNullOr(Schema.parseJson(Schema.Array(Schema.Struct({ asset: Schema.String, orderLineId: Schema.String })))),
  version: DbInt,
  createdAt: DbMillis,
  updatedAt: DbMillis,
  /** `TraceContext` of the line's last change: the reconciler's work continues it. */
  traceContext: Schema.optional(Schema.NullOr(Schema.String))
}) {}

/** All lines of one vendor order. */
export interface Order {
  readonly orderNumber: string
  readonly nextCheckAt: Option.Option<number>
  readonly lines: ReadonlyArray<OrderLine>
}

/** A leased order: the claimer handles every line of it until the lease expires. */
export interface OrderClaim {
  readonly lease: Lease
  readonly attempts: number
  readonly lines: ReadonlyArray<OrderLine>
}

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  /** Pass back as `cursor` to get the next page; `None` on the last page. */
  readonly nextCursor: Option.Option<string>
}

// ---------------------------------------------------------------------------
// Inputs (Type === Encoded, so typed callers and raw JSON are checked alike)
// ---------------------------------------------------------------------------

const Millis = Schema.Int.pipe(Schema.nonNegative())
const Snapshot = Schema.Unknown
const MaxSnapshotBytes = 64 * 1024
const MaxErrorChars = 2000

export const OrderLineKey = Schema.Struct({ orderNumber: Identifier, orderLineId: Identifier })
export type OrderLineKey = typeof OrderLineKey.Type

/** An asset as the caller names it (HL Connect's id, in decimal, from every entry point today). */
const AssetText = SingleLineText({ identifier: "AssetText", maxLength: 512 })

// Caller text follows core's one rule (`Text`): well-formed, no control characters, NFC, bounded.
export const NewOrderLine = Schema.Struct({
  orderNumber: Identifier,
  orderLineId: Identifier,
  asset: AssetText,
  quantity: PositiveInt,
  unitPriceMinor: NonNegativeInt,
  totalPriceMinor: NonNegativeInt,
  currency: Schema.String.pipe(Schema.pattern(/^[A-Z]{3}$/, { message: () => "must be an ISO 4217 code like EUR" })),
  customerEmail: EmailAddress,
  customerName: Schema.optional(CustomerName),
  validationToken: Schema.optional(Schema.RedactedFromSelf(ValidationTokenText)),
  tokenExpiresAt: Schema.optional(Millis),
  parts: Schema.optional(
    Schema.Array(Schema.Struct({ asset: AssetText, orderLineId: Identifier })).pipe(
      Schema.maxItems(64)
    )
  ),
  /** When the line is first due for a check; defaults to now, so an abandoned line is picked up. */
  nextCheckAt: Schema.optional(Millis)
})
export type NewOrderLine = typeof NewOrderLine.Type

const CheckFields = {
  expectedVersion: PositiveInt,
  /** `null` clears the next check; omitted leaves it as is. */
  nextCheckAt: Schema.optional(Schema.NullOr(Millis)),
  /** `null` clears the last error; longer messages are truncated (diagnostic text). */
  lastError: Schema.optional(Schema.NullOr(Schema.String)),
  remoteSnapshot: Schema.optional(Snapshot),
  attempts: Schema.optional(NonNegativeInt)
}

export const TransitionRequest = Schema.Struct({
  ...OrderLineKey.fields,
  ...CheckFields,
  to: OrderLineState,
  /** Required when moving to `needs_attention`. */
  reason: Schema.optional(boundedText(1000).pipe(Schema.minLength(1)))
})
export type TransitionRequest = typeof TransitionRequest.Type

export const RecordCheckRequest = Schema.Struct({ ...OrderLineKey.fields, ...CheckFields })
export type RecordCheckRequest = typeof RecordCheckRequest.Type

export const ReplaceTokenRequest = Schema.Struct({
  ...OrderLineKey.fields,
  expectedVersion: PositiveInt,
  token: Schema.RedactedFromSelf(ValidationTokenText),
  /** Omitted: the new token's expiry is unknown (the old one's no longer applies). */
  tokenExpiresAt: Schema.optional(Millis),
  /** When the line is next due for a check; defaults to now (as on create). */
  nextCheckAt: Schema.optional(Millis)
})
export type ReplaceTokenRequest = typeof ReplaceTokenRequest.Type

/** Only a line not yet sent to HL Connect may take a new token. */
export const tokenReplaceableStates: ReadonlyArray<OrderLineState> = ["paid", "needs_attention"]

export const AuditCandidatesRequest = Schema.Struct({
  /** Epoch ms: orders whose last line ended at or after this. */
  endedSince: NonNegativeInt,
  limit: Schema.Int.pipe(Schema.between(1, 100_000))
})
export type AuditCandidatesRequest = typeof AuditCandidatesRequest.Type

export const ListByStateRequest = Schema.Struct({
  state: OrderLineState,
  limit: Schema.Int.pipe(Schema.between(1, 500)),
  cursor: Schema.optional(Schema.String)
})
export type ListByStateRequest = typeof ListByStateRequest.Type

const Cursor = Schema.compose(Schema.StringFromBase64Url, Schema.parseJson(Schema.Tuple(Schema.String, Schema.String)))
const encodeCursor = Schema.encodeSync(Cursor)
/** An order-level cursor: the last order number of the page. */
const OrderCursor = Schema.compose(Schema.StringFromBase64Url, Schema.parseJson(Schema.Struct({ after: Schema.String }))).pipe(
  Schema.transform(Schema.String, { strict: true, decode: ({ after }) => after, encode: (after) => ({ after }) })
)
const encodeOrderCursor = Schema.encodeSync(OrderCursor)
const OrderNumbers = Schema.Array(Identifier).pipe(Schema.maxItems(500))
const OrderNumberRow = Schema.Struct({ orderNumber: Schema.String })
const CountRow = Schema.Struct({ n: DbInt })

const ReleaseRequest = Schema.Struct({ nextCheckAt: Schema.optional(Schema.NullOr(Millis)) })

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

// ---------------------------------------------------------------------------
// Repository
// ---------------------------------------------------------------------------

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

    const linesOf = (orderNumber: string) =>
      sql`SELECT * FROM order_lines WHERE order_number = ${orderNumber} ORDER BY order_line_id`.pipe(
        Effect.flatMap(decodeLines)
      )

    const mustExist = (key: OrderLineKey) =>
      selectLine(key).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.fail(new NotFound({ entity: "order line", id: `${key.orderNumber}/${key.orderLineId}` })),
            onSome: Effect.succeed
          })
        )
      )

    /** Insert a line (and its order). Re-delivering the same line is not an error: `created` tells. */
    const create = (input: NewOrderLine): Effect.Effect<{ readonly line: OrderLine; readonly created: boolean }, InvalidInput | StorageError> =>
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
        const rows = yield* sql`SELECT order_number, next_check_at, attempts FROM orders WHERE order_number = ${id}`.pipe(
          Effect.flatMap(decodeOrders)
        )
        const order = rows[0]
        if (order === undefined) return Option.none()
        const lines = yield* linesOf(id)
        return Option.some({ orderNumber: order.orderNumber, nextCheckAt: order.nextCheckAt, lines })
      }).pipe(storage)

    /**
     * Many orders in two queries (for batch readers such as the GraphQL facade), keyed by order
     * number; unknown numbers are absent. At most 500 numbers per call.
     */
    const findOrders = (orderNumbers: ReadonlyArray<string>): Effect.Effect<ReadonlyMap<string, Order>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const ids = yield* decodeInput(OrderNumbers)(orderNumbers)
        if (ids.length === 0) return new Map<string, Order>()
        const orders = yield* sql`SELECT order_number, next_check_at, attempts FROM orders WHERE ${sql.in("order_number", ids)}`.pipe(
          Effect.flatMap(decodeOrders)
        )
        const lines = yield* sql`SELECT * FROM order_lines WHERE ${sql.in("order_number", ids)}
          ORDER BY order_number, order_line_id`.pipe(Effect.flatMap(decodeLines))
        const byOrder = new Map<string, Array<OrderLine>>()
        for (const line of lines) {
          const list = byOrder.get(line.orderNumber)
          if (list === undefined) byOrder.set(line.orderNumber, [line])
          else list.push(line)
        }
        return new Map(
          orders.map((order): [string, Order] => [
            order.orderNumber,
            { orderNumber: order.orderNumber, nextCheckAt: order.nextCheckAt, lines: byOrder.get(order.orderNumber) ?? [] }
          ])
        )
      }).pipe(storage)

    /**
     * Order numbers with at least one line in `state`, in order, cursor-paged by order; each item
     * carries the cursor that resumes right after it (for connection edges).
     */
    const listOrdersByState = (
      request: ListByStateRequest
    ): Effect.Effect<Page<{ readonly orderNumber: string; readonly cursor: string }>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(ListByStateRequest)(request)
        const after =
          req.cursor === undefined ? undefined : yield* decodeInput(OrderCursor)(req.cursor).pipe(
            Effect.mapError(() => new InvalidInput({ field: "cursor", message: "malformed cursor" }))
          )
        const rows = yield* (after === undefined
          ? sql`SELECT DISTINCT order_number FROM order_lines WHERE state = ${req.state}
                ORDER BY order_number LIMIT ${req.limit + 1}`
          : sql`SELECT DISTINCT order_number FROM order_lines WHERE state = ${req.state} AND order_number > ${after}
                ORDER BY order_number LIMIT ${req.limit + 1}`
        ).pipe(Effect.flatMap(decodeOrderNumbers))
        const items = rows.slice(0, req.limit).map((row) => ({ orderNumber: row.orderNumber, cursor: encodeOrderCursor(row.orderNumber) }))
        const last = items[items.length - 1]
        return { items, nextCursor: rows.length > req.limit && last !== undefined ? Option.some(last.cursor) : Option.none() }
      }).pipe(storage)

    /** Lines in one state, in key order, cursor-paged (stable under concurrent inserts). */
    const listByState = (request: ListByStateRequest): Effect.Effect<Page<OrderLine>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(ListByStateRequest)(request)
        const after =
          req.cursor === undefined ? undefined : yield* decodeInput(Cursor)(req.cursor).pipe(
            Effect.mapError(() => new InvalidInput({ field: "cursor", message: "malformed cursor" }))
          )
        const rows = yield* (after === undefined
          ? sql`SELECT * FROM order_lines WHERE state = ${req.state}
                ORDER BY order_number, order_line_id LIMIT ${req.limit + 1}`
          : sql`SELECT * FROM order_lines WHERE state = ${req.state}
                AND (order_number > ${after[0]} OR (order_number = ${after[0]} AND order_line_id > ${after[1]}))
                ORDER BY order_number, order_line_id LIMIT ${req.limit + 1}`
        ).pipe(Effect.flatMap(decodeLines))
        const items = rows.slice(0, req.limit)
        const last = items[items.length - 1]
        const nextCursor =
          rows.length > req.limit && last !== undefined
            ? Option.some(encodeCursor([last.orderNumber, last.orderLineId]))
            : Option.none()
        return { items, nextCursor }
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
          return yield* new InvalidInput({ field: "remoteSnapshot", message: `must be at most ${MaxSnapshotBytes} bytes as JSON` })
        }
        const now = yield* Clock.currentTimeMillis
        const id = `${req.orderNumber}/${req.orderLineId}`
        // Write first, read only on failure: the state precondition is part of the
        // UPDATE, so the check is atomic, and on SQLite the transaction never has to
        // upgrade a read lock (which another process could make fail with BUSY).
        const fromStates = to === undefined ? undefined : OrderLineState.literals.filter((s) => canTransition(s, to))
        const nextCheckAt =
          // Terminal and parked lines are nobody's to check again unless the caller says when.
          to !== undefined && (terminalStates.includes(to) || to === "needs_attention") && req.nextCheckAt === undefined ? null : req.nextCheckAt
        const changes: Record<string, unknown> = { version: req.expectedVersion + 1, updatedAt: now, traceContext: yield* TraceContext.current }
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
              return yield* new StaleVersion({ entity: "order line", id, expected: req.expectedVersion, actual: current.version })
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
        Effect.withSpan("OrderLines.transition")
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
                return yield* new IllegalTransition({ entity: "order line", id, from: current.state, to: "paid (new validation token)" })
              }
              return yield* new StaleVersion({ entity: "order line", id, expected: req.expectedVersion, actual: current.version })
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
    const claimDueOrders = (request: ClaimRequest): Effect.Effect<ReadonlyArray<OrderClaim>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(ClaimRequest)(request)
        return yield* sql.withTransaction(
          Effect.gen(function* () {
            const claimed = yield* Leases.claim(sql, orderLeases, req)
            const orders = yield* decodeOrders(claimed.rows)
            return yield* Effect.forEach(orders, (order) =>
              linesOf(order.orderNumber).pipe(
                Effect.map(
                  (lines): OrderClaim => ({
                    lease: new Lease({
                      itemId: order.orderNumber,
                      leaseId: claimed.leaseId,
                      owner: claimed.owner,
                      expiresAt: claimed.expiresAt
                    }),
                    attempts: order.attempts,
                    lines
                  })
                )
              )
            )
          })
        )
      }).pipe(storage, Effect.withSpan("OrderLines.claimDueOrders"))

    /** How many orders `claimDueOrders` would lease at `at` (a pass's expected total, for progress). */
    const countDueOrders = (at: number): Effect.Effect<number, InvalidInput | StorageError> =>
      decodeInput(Millis)(at).pipe(
        Effect.flatMap((millis) => Leases.countDue(sql, orderLeases, millis)),
        Effect.flatMap(decodeRows(CountRow, "order count")),
        Effect.map((rows) => rows[0]?.n ?? 0),
        storage
      )

    const renewOrderLease = (lease: Lease, leaseMs: number): Effect.Effect<Lease, LeaseLost | InvalidInput | StorageError> =>
      decodeInput(Schema.Int.pipe(Schema.between(1, 86_400_000)))(leaseMs).pipe(
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
    const listAuditCandidates = (request: AuditCandidatesRequest): Effect.Effect<ReadonlyArray<string>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(AuditCandidatesRequest)(request)
        const rows = yield* sql`SELECT o.order_number FROM orders o
          WHERE o.order_number IN (SELECT order_number FROM order_lines
            WHERE state IN ('completed', 'failed', 'cancelled') AND updated_at >= ${req.endedSince})
          AND NOT EXISTS (SELECT 1 FROM order_lines a WHERE a.order_number = o.order_number
            AND a.state NOT IN ('completed', 'failed', 'cancelled'))
          ORDER BY COALESCE(o.audited_at, -1), o.order_number LIMIT ${req.limit}`.pipe(Effect.flatMap(decodeOrderNumbers))
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
