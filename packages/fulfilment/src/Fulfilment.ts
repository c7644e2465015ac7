/**
 * The order workflow, shared by the webhook relay and the reconciler: register a paid line,
 * cancel a refunded one, and bring an order in line with HL Connect. Every state change and the
 * event it publishes commit in one transaction; every update is compare-and-set, so two workers
 * racing on one line cannot undo each other's work (the loser sees `Skipped`).
 */
import {
  type AssetNotFound,
  type CallError,
  HlConnect,
  hlIdOrReason,
  type InvalidOrderStatus,
  type InvalidRequest,
  type OrderAlreadyExists,
  type OrderItem,
  type OrderNotFound,
  type PurchaseOutcome,
  type Unauthorized,
  ValidationRejected
} from "@hlconnect/core"
import {
  IllegalTransition,
  type InvalidInput,
  type NotFound,
  OrderLines,
  Outbox,
  StaleVersion,
  Store,
  type StorageError,
  TraceContext
} from "@hlconnect/store"
import { Clock, Data, Duration, Effect, Option, Redacted } from "effect"
import { eventFor, eventTypeOf } from "./OrderEvents.js"
import { type Decision, hlLineIdsOf, needsRemote, planOrder, type RemoteView, remoteStatusOf } from "./Plan.js"
import { majorFromMinor, registrationGrace } from "./PaidOrder.js"
import { backoff, defaultPolicy, type FulfilmentPolicy } from "./Policy.js"

/** Work cannot go on: HL Connect refuses our credentials or we talk to the wrong environment. */
export class FulfilmentHalted extends Data.TaggedError("FulfilmentHalted")<{
  readonly reason: "Unauthorized" | "EnvironmentMismatch"
  readonly message: string
}> {}

export type FulfilmentError = FulfilmentHalted | StorageError | NotFound | InvalidInput

/**
 * The refusal behind a `NeedsAttention`, as HL Connect worded it (or as we would have, for an
 * expired token caught before sending), for callers that answer a person rather than a log.
 */
export type Refusal =
  | ValidationRejected
  | AssetNotFound
  | OrderAlreadyExists
  | InvalidRequest
  | OrderNotFound
  | InvalidOrderStatus

/** What became of a line the workflow acted on. */
export type LineOutcome =
  | { readonly _tag: "Registered" }
  | { readonly _tag: "Cancelled" }
  | { readonly _tag: "Transitioned"; readonly to: OrderLines.OrderLineState }
  | {
      readonly _tag: "NeedsAttention"
      readonly reason: string
      readonly refusal?: Refusal
      /** HL Connect's status of the line, when a cancellation was refused. */
      readonly remoteStatus?: string
    }
  | { readonly _tag: "RetryLater"; readonly at: number; readonly error: string }
  | { readonly _tag: "Waiting"; readonly nextCheckAt: number }
  | { readonly _tag: "Unchanged" }
  /** Another worker changed the line first, or it is not in a state this step applies to. */
  | { readonly _tag: "Skipped"; readonly state: OrderLines.OrderLineState }

type Skipped = Extract<LineOutcome, { readonly _tag: "Skipped" }>

/**
 * A concurrent change: another worker moved the line first (stale version), or the step is no
 * longer legal from the state it left. Never an error to the workflow: the step is `Skipped`.
 */
export type Conflict = StaleVersion | IllegalTransition

const isConflict = (error: unknown): error is Conflict =>
  error instanceof StaleVersion || error instanceof IllegalTransition

/** The one conflict handler: a compare-and-set step on `line` that lost the race is `Skipped`. */
export const skippedOnConflict =
  (line: OrderLines.OrderLine) =>
  <A, E, R>(self: Effect.Effect<A, E | Conflict, R>): Effect.Effect<A | Skipped, E, R> =>
    Effect.catchIf(self, isConflict, () => Effect.succeed<Skipped>({ _tag: "Skipped", state: line.state }))

export interface LineReport {
  readonly orderLineId: string
  readonly from: OrderLines.OrderLineState
  readonly action: Decision["action"]["_tag"]
  readonly drift?: { readonly expected: string; readonly observed: string }
  readonly outcome: LineOutcome
}

export interface OrderReport {
  readonly orderNumber: string
  readonly remote: RemoteView["_tag"]
  readonly lines: ReadonlyArray<LineReport>
}

/** Remote snapshots are stored; URLs are credentials, so they are stripped first. */
const snapshotOf = (item: OrderItem | undefined) => {
  if (item === undefined) return undefined
  const { download_url: _download, view_url: _view, ...rest } = item
  return { ...rest }
}

/**
 * How a registration parked for want of a valid token starts its reason: validating the purchase
 * again (a new token) is the fix, so a caller holding a new token may put the line back to `paid`.
 */
const newTokenReasons = {
  missing: "no validation token",
  expired: "validation token expired",
  refused: "HL Connect refused the registration"
} as const

/** A `needs_attention` line that a new validation token would unblock (see `newTokenReasons`). */
export const awaitsNewToken = (line: OrderLines.OrderLine): boolean =>
  line.state === "needs_attention" &&
  Option.exists(line.attentionReason, (reason) =>
    Object.values(newTokenReasons).some((start) => reason.startsWith(start))
  )

const isHalting = (error: {
  readonly _tag: string
}): error is Unauthorized | { readonly _tag: "EnvironmentMismatch"; readonly message: string } =>
  error._tag === "Unauthorized" || error._tag === "EnvironmentMismatch"

const halted = (error: { readonly _tag: string; readonly message: string }) =>
  new FulfilmentHalted({
    reason: error._tag === "Unauthorized" ? "Unauthorized" : "EnvironmentMismatch",
    message:
      error._tag === "Unauthorized"
        ? `HL Connect refused the access token (401): ${error.message}. Check HLCONNECT_TOKEN.`
        : `HL Connect answered from another environment: ${error.message}. Check HLCONNECT_BASE_URL and HLCONNECT_EXPECTED_ENVIRONMENT.`
  })

export class Fulfilment extends Effect.Service<Fulfilment>()("@hlconnect/fulfilment/Fulfilment", {
  effect: (policy: FulfilmentPolicy = defaultPolicy) =>
    Effect.gen(function* () {
      const hl = yield* HlConnect
      const store = yield* Store.Store
      const lines = yield* OrderLines.OrderLines
      const outbox = yield* Outbox.Outbox

      type MoveExtra = {
        readonly reason?: string
        readonly nextCheckAt?: number | null
        readonly remoteSnapshot?: unknown
        readonly lastError?: string | null
        readonly attempts?: number
      }

      /**
       * Moves a line and publishes its event, atomically: the moved line, or a `Conflict` when
       * another worker changed it first (callers map that to `Skipped` with `skippedOnConflict`).
       */
      const move = (
        line: OrderLines.OrderLine,
        to: OrderLines.OrderLineState,
        extra: MoveExtra = {}
      ): Effect.Effect<OrderLines.OrderLine, Conflict | StorageError | NotFound | InvalidInput> =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const terminal = to === "completed" || to === "failed" || to === "cancelled" || to === "needs_attention"
          const moved = yield* store.transaction(
            Effect.gen(function* () {
              const next = yield* lines.transition({
                orderNumber: line.orderNumber,
                orderLineId: line.orderLineId,
                expectedVersion: line.version,
                to,
                ...(extra.reason === undefined ? {} : { reason: extra.reason }),
                nextCheckAt: extra.nextCheckAt !== undefined ? extra.nextCheckAt : terminal ? null : now,
                ...(extra.remoteSnapshot === undefined ? {} : { remoteSnapshot: extra.remoteSnapshot }),
                ...(extra.lastError === undefined ? {} : { lastError: extra.lastError }),
                ...(extra.attempts === undefined ? {} : { attempts: extra.attempts })
              })
              const type = eventTypeOf(to)
              if (type !== undefined) {
                yield* outbox.append({
                  orderNumber: next.orderNumber,
                  eventType: type,
                  payload: eventFor(type, next, now)
                })
              }
              return next
            })
          )
          return moved
        })

      /** `move`, then `outcome` — or `Skipped` when another worker changed the line first. */
      const moveTo = (
        line: OrderLines.OrderLine,
        to: OrderLines.OrderLineState,
        outcome: LineOutcome,
        extra: MoveExtra = {}
      ) => move(line, to, extra).pipe(Effect.as<LineOutcome>(outcome), skippedOnConflict(line))

      const needsAttention = (
        line: OrderLines.OrderLine,
        reason: string,
        extra: { readonly remoteSnapshot?: unknown; readonly refusal?: Refusal; readonly remoteStatus?: string } = {}
      ) => {
        const { remoteSnapshot, ...why } = extra
        return moveTo(
          line,
          "needs_attention",
          { _tag: "NeedsAttention", reason, ...why },
          remoteSnapshot === undefined ? { reason } : { reason, remoteSnapshot }
        )
      }

      /** Records a transient failure and schedules the next try, backing off by attempts. */
      const retryLater = (line: OrderLines.OrderLine, error: string) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const at = now + backoff(policy.retryDelay, policy.maxCheckDelay, line.attempts)
          return yield* lines
            .recordCheck({
              orderNumber: line.orderNumber,
              orderLineId: line.orderLineId,
              expectedVersion: line.version,
              nextCheckAt: at,
              lastError: error,
              attempts: line.attempts + 1
            })
            .pipe(Effect.as<LineOutcome>({ _tag: "RetryLater", at, error }), skippedOnConflict(line))
        })

      /** A registering line whose call ended without an outcome to record: due for another try now. */
      const dueAgainNow = (line: OrderLines.OrderLine, lastError: string) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          lines.recordCheck({
            orderNumber: line.orderNumber,
            orderLineId: line.orderLineId,
            expectedVersion: line.version,
            nextCheckAt: now,
            lastError
          })
        ).pipe(
          Effect.asVoid,
          Effect.catchIf(isConflict, () => Effect.void)
        ) // someone else has the line now

      const describe = (error: CallError | InvalidRequest): string =>
        error._tag === "InvalidRequest" ? `${error.field}: ${error.message}` : error.message

      /**
       * Registers a `paid` line with HL Connect, idempotently. A line already `registering` may
       * have been sent by a worker that crashed mid-call, so a 409 then means it is registered.
       */
      const registerLine = (current: OrderLines.OrderLine): Effect.Effect<LineOutcome, FulfilmentError> =>
        Effect.gen(function* () {
          if (current.state !== "paid" && current.state !== "registering")
            return { _tag: "Skipped", state: current.state } as const
          const now = yield* Clock.currentTimeMillis
          const token = Option.getOrUndefined(current.validationToken)
          if (token === undefined)
            return yield* needsAttention(current, `${newTokenReasons.missing}: validate the purchase again`)
          const customer = Option.getOrUndefined(current.customerName) ?? current.customerEmail
          const orderNumber = hlIdOrReason("order number", current.orderNumber)
          const orderLineId = hlIdOrReason("order line id", current.orderLineId)
          if (typeof orderNumber === "string") return yield* needsAttention(current, orderNumber)
          if (typeof orderLineId === "string") return yield* needsAttention(current, orderLineId)
          const parts: Array<{ asset_id: number; order_line_id: number }> = []
          for (const part of Option.getOrElse(current.parts, () => [])) {
            const assetId = hlIdOrReason("part asset", part.asset)
            const partLine = hlIdOrReason("part order line id", part.orderLineId)
            if (typeof assetId === "string") return yield* needsAttention(current, assetId)
            if (typeof partLine === "string") return yield* needsAttention(current, partLine)
            parts.push({ asset_id: assetId, order_line_id: partLine })
          }
          const mayHaveBeenSentBefore = current.state === "registering"
          if (!mayHaveBeenSentBefore && Option.exists(current.tokenExpiresAt, (exp) => exp <= now)) {
            const message = `${newTokenReasons.expired} before registration: validate the purchase again`
            return yield* needsAttention(current, message, {
              refusal: new ValidationRejected({ message, reason: "TokenExpired" })
            })
          }
          // Record the intent before the call: after a crash, `registering` tells the next worker it may have been sent.
          const request = {
            token: Redacted.value(token),
            order_number: orderNumber,
            order_line_id: orderLineId,
            unit_price: majorFromMinor(current.unitPriceMinor),
            line_item_price: majorFromMinor(current.totalPriceMinor),
            customer,
            ...(parts.length === 0 ? {} : { parts })
          }
          // The intent and the call as one step that is only interruptible during the call: an
          // interruption must never leave a recorded intent without the reschedule below.
          // Intent, call and the record of its outcome as one step that is only interruptible
          // during the call itself: an interruption must never leave a recorded intent (or an
          // answer) without its bookkeeping.
          return yield* Effect.uninterruptibleMask((restore) => {
            /** The call, and the record of its outcome, for a line recorded as `registering`. */
            const send = (line: OrderLines.OrderLine): Effect.Effect<LineOutcome, FulfilmentError> =>
              Effect.gen(function* () {
                const result = yield* restore(hl.registerPurchase(request, { mayHaveBeenSentBefore })).pipe(
                  Effect.either,
                  // Abandoned (the pass stopped, shutdown): nobody waits for this call any more, so the
                  // line must not wait out the grace period either; a retry is idempotent.
                  Effect.onInterrupt(() =>
                    dueAgainNow(line, "registration interrupted").pipe(
                      Effect.catchAll((e) =>
                        Effect.logWarning(`could not reschedule an interrupted registration: ${e.message}`)
                      )
                    )
                  )
                )
                if (result._tag === "Right") {
                  const registeredAt = yield* Clock.currentTimeMillis
                  return yield* moveTo(
                    line,
                    "registered",
                    { _tag: "Registered" },
                    {
                      nextCheckAt: registeredAt + backoff(policy.firstCheckDelay, policy.maxCheckDelay, 0),
                      lastError: null,
                      attempts: 0
                    }
                  )
                }
                const error = result.left
                if (isHalting(error)) {
                  // Refused, so no longer in flight: due again at once, once the credentials are fixed.
                  yield* dueAgainNow(line, error.message)
                  return yield* Effect.fail(halted(error))
                }
                switch (error._tag) {
                  case "ValidationRejected":
                    return yield* needsAttention(
                      line,
                      error.reason === "TokenExpired"
                        ? `${newTokenReasons.expired}: validate the purchase again (${error.message})`
                        : `${newTokenReasons.refused}: ${error.message}`,
                      { refusal: error }
                    )
                  case "AssetNotFound":
                    return yield* needsAttention(line, `HL Connect does not know the asset: ${error.message}`, {
                      refusal: error
                    })
                  case "OrderAlreadyExists":
                    return yield* needsAttention(
                      line,
                      `HL Connect already has this order line, registered by someone else: ${error.message}`,
                      {
                        refusal: error
                      }
                    )
                  case "InvalidRequest":
                    return yield* needsAttention(line, `the line cannot be registered as stored: ${describe(error)}`, {
                      refusal: error
                    })
                  default:
                    return yield* retryLater(line, describe(error))
                }
              })
            // Not due for a reconciler while this call may be in flight: it would send it a second time.
            return mayHaveBeenSentBefore
              ? send(current)
              : move(current, "registering", {
                  lastError: null,
                  nextCheckAt: now + Duration.toMillis(registrationGrace)
                }).pipe(
                  Effect.flatMap(send),
                  // Only the intent can conflict here: every step of `send` settles its own.
                  skippedOnConflict(current)
                )
          })
        })

      /**
       * A refund: a line never sent to HL Connect is cancelled here and now; any other line is
       * marked `cancel_requested` for `cancelLine` (the caller's next step, or the reconciler's).
       */
      const requestCancel = (line: OrderLines.OrderLine): Effect.Effect<LineOutcome, FulfilmentError> =>
        Effect.gen(function* () {
          switch (line.state) {
            case "cancel_requested":
            case "cancelled":
            case "failed":
            case "needs_attention":
              return { _tag: "Skipped", state: line.state } as const
            case "paid":
              return yield* move(line, "cancel_requested").pipe(
                Effect.flatMap((requested) => moveTo(requested, "cancelled", { _tag: "Cancelled" })),
                skippedOnConflict(line)
              )
            default:
              return yield* moveTo(line, "cancel_requested", { _tag: "Transitioned", to: "cancel_requested" })
          }
        })

      const remoteViewOf = (outcome: PurchaseOutcome): RemoteView =>
        outcome._tag === "Completed"
          ? { _tag: "Completed", items: outcome.items }
          : outcome._tag === "Processing"
            ? { _tag: "Processing" }
            : { _tag: "Failed", message: outcome.message }

      /** HL Connect's view of an order; only credentials problems fail, the rest is data. */
      const readRemote = (orderNumber: string): Effect.Effect<RemoteView, FulfilmentHalted> => {
        const id = hlIdOrReason("order number", orderNumber)
        if (typeof id === "string") return Effect.succeed({ _tag: "Unreadable", error: id })
        return hl.purchaseInfo({ order_id: id }).pipe(
          Effect.map(remoteViewOf),
          Effect.catchAll((error): Effect.Effect<RemoteView, FulfilmentHalted> => {
            if (isHalting(error)) return Effect.fail(halted(error))
            return Effect.succeed(
              error._tag === "OrderNotFound" ? { _tag: "NotFound" } : { _tag: "Unreadable", error: describe(error) }
            )
          })
        )
      }

      /**
       * Sends the cancellation of a `cancel_requested` line: one DELETE per HL Connect line it was
       * registered as (its own, then each ensemble part's), so no part stays sold. Every one is sent
       * whatever the others answer, and refusals are judged after: sent again after a partial
       * failure, a line already `CANCELLED` at HL Connect counts as cancelled.
       */
      const cancelLine = (line: OrderLines.OrderLine): Effect.Effect<LineOutcome, FulfilmentError> =>
        Effect.gen(function* () {
          if (line.state !== "cancel_requested") return { _tag: "Skipped", state: line.state } as const
          const orderNumber = hlIdOrReason("order number", line.orderNumber)
          if (typeof orderNumber === "string") return yield* needsAttention(line, orderNumber)
          const hlLines: Array<number> = []
          for (const id of hlLineIdsOf(line)) {
            const hlLine = hlIdOrReason("order line id", id)
            if (typeof hlLine === "string") return yield* needsAttention(line, hlLine)
            hlLines.push(hlLine)
          }
          const ofLine = (hlLine: number) => (hlLines.length === 1 ? "" : ` (HL Connect line ${hlLine})`)
          const answers = yield* Effect.forEach(hlLines, (hlLine) =>
            Effect.match(hl.cancelOrderLine({ order_id: orderNumber, order_line_id: hlLine }), {
              onFailure: (error) => [{ hlLine, error }],
              onSuccess: () => []
            })
          )
          const refusedByStatus: Array<{ readonly hlLine: number; readonly error: InvalidOrderStatus }> = []
          let unavailable: string | undefined
          for (const { hlLine, error } of answers.flat()) {
            if (isHalting(error)) return yield* Effect.fail(halted(error))
            switch (error._tag) {
              case "InvalidOrderStatus":
                refusedByStatus.push({ hlLine, error })
                break
              case "OrderNotFound":
                return yield* needsAttention(
                  line,
                  `HL Connect has no such order line to cancel${ofLine(hlLine)}: ${error.message}`,
                  { refusal: error }
                )
              case "InvalidRequest":
                return yield* needsAttention(line, `the line cannot be cancelled as stored: ${describe(error)}`, {
                  refusal: error
                })
              default:
                unavailable ??= describe(error)
            }
          }
          if (refusedByStatus.length > 0) {
            // Ask what each refused line's status is, so the record says why it could not be cancelled.
            const remote = yield* readRemote(line.orderNumber)
            for (const { hlLine, error } of refusedByStatus) {
              const item =
                remote._tag === "Completed" ? remote.items.find((i) => i.order_line_id === hlLine) : undefined
              const status = item === undefined ? remoteStatusOf(remote, line).status : (item.status ?? "UNKNOWN")
              if (status === "CANCELLED") continue
              return yield* needsAttention(
                line,
                `HL Connect cannot cancel the line${ofLine(hlLine)} (status ${status}): ${error.message}`,
                { remoteSnapshot: snapshotOf(item) ?? { status }, refusal: error, remoteStatus: status }
              )
            }
          }
          if (unavailable !== undefined) return yield* retryLater(line, unavailable)
          return yield* moveTo(line, "cancelled", { _tag: "Cancelled" })
        })

      const apply = (decision: Decision): Effect.Effect<LineOutcome, FulfilmentError> => {
        const { line, action } = decision
        switch (action._tag) {
          case "Register":
            return registerLine(line)
          case "Cancel":
            return cancelLine(line)
          case "Transition": {
            const snapshot = snapshotOf(decision.remote)
            const extra = {
              ...(action.reason === undefined ? {} : { reason: action.reason }),
              ...(snapshot === undefined ? {} : { remoteSnapshot: snapshot })
            }
            return moveTo(
              line,
              action.to,
              action.to === "needs_attention"
                ? { _tag: "NeedsAttention", reason: action.reason ?? "" }
                : { _tag: "Transitioned", to: action.to },
              extra
            )
          }
          case "Wait":
            return lines
              .recordCheck({
                orderNumber: line.orderNumber,
                orderLineId: line.orderLineId,
                expectedVersion: line.version,
                nextCheckAt: action.nextCheckAt,
                attempts: line.attempts + 1,
                lastError: action.error ?? null,
                ...(decision.remote === undefined ? {} : { remoteSnapshot: snapshotOf(decision.remote) })
              })
              .pipe(
                Effect.as<LineOutcome>({ _tag: "Waiting", nextCheckAt: action.nextCheckAt }),
                skippedOnConflict(line)
              )
          case "Nothing":
            return Effect.succeed({ _tag: "Unchanged" })
        }
      }

      /**
       * Brings one order in line with HL Connect: one `purchaseInfo` for all its lines, then each
       * line's decision. With `dryRun`, decides and reports but changes nothing (no calls that
       * change HL Connect, no writes).
       */
      const reconcileOrderNow = (
        orderLines: ReadonlyArray<OrderLines.OrderLine>,
        options: { readonly dryRun?: boolean } = {}
      ): Effect.Effect<OrderReport, FulfilmentError> =>
        Effect.gen(function* () {
          const first = orderLines[0]
          if (first === undefined) return { orderNumber: "", remote: "NotAsked", lines: [] }
          const remote: RemoteView = needsRemote(orderLines)
            ? yield* readRemote(first.orderNumber)
            : { _tag: "NotAsked" }
          const now = yield* Clock.currentTimeMillis
          const decisions = planOrder(orderLines, remote, now, policy)
          const reports = yield* Effect.forEach(decisions, (decision) =>
            Effect.map(
              options.dryRun === true ? Effect.succeed<LineOutcome>({ _tag: "Unchanged" }) : apply(decision),
              (outcome): LineReport => ({
                orderLineId: decision.line.orderLineId,
                from: decision.line.state,
                action: decision.action._tag,
                ...(decision.drift === undefined ? {} : { drift: decision.drift }),
                outcome
              })
            )
          )
          return { orderNumber: first.orderNumber, remote: remote._tag, lines: reports }
        })

      /**
       * `reconcileOrderNow` continuing the trace of the lines' last change (the dispatcher's
       * registration): the child of that one context, or linked to each when the lines' changes
       * came from several traces (fan-in).
       */
      const reconcileOrder = (
        orderLines: ReadonlyArray<OrderLines.OrderLine>,
        options: { readonly dryRun?: boolean } = {}
      ): Effect.Effect<OrderReport, FulfilmentError> =>
        TraceContext.continueFrom(
          "Fulfilment.reconcileOrder",
          orderLines.map((line) => line.traceContext),
          orderLines[0] === undefined ? {} : { "hlconnect.order_number": orderLines[0].orderNumber }
        )(reconcileOrderNow(orderLines, options))

      return { registerLine, requestCancel, cancelLine, reconcileOrder, readRemote, policy } as const
    })
}) {}
