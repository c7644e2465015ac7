/**
 * `cancelOrderLine` through the order workflow when the line is recorded here: a refund as the
 * relay handles one (`Fulfilment.requestCancel`, then `cancelLine`), so the local state, the
 * `order.cancelled` event and HL Connect agree. A line this store does not know (registered by
 * another system) is still cancelled at HL Connect directly, and the result says so (`tracked`).
 */
import { decodeInput, HlConnect, HlIdNumberFromText, invalidRequest, type OrderNotFound } from "@hlconnect/core"
import { Fulfilment, type FulfilmentError, type LineOutcome, lineOfPart } from "@hlconnect/fulfilment"
import { OrderLines } from "@hlconnect/store"
import { Clock, Effect, Option, Schema } from "effect"
import {
  type InvalidInputData,
  type InvalidOrderStatusData,
  invalidInputData,
  type ProblemData,
  problemData
} from "./Answers.js"
import type { UpstreamBudgetExceeded, UpstreamRateLimited } from "./Errors.js"
import { inSchemaTerms } from "./MutationInput.js"
import {
  awaitingOperator,
  inProgressElsewhere,
  type OrderLineBlockedData,
  type RetryScheduledData,
  retryScheduled
} from "./WorkflowAnswers.js"

export interface Cancelled {
  readonly _tag: "OrderLineCancelled"
  readonly order_id: number
  readonly order_line_id: number
  /** Whether the line is recorded here (and was cancelled through the workflow). */
  readonly tracked: boolean
}

export type CancelResult =
  | Cancelled
  | InvalidOrderStatusData
  | ProblemData<OrderNotFound>
  | InvalidInputData
  | RetryScheduledData
  | OrderLineBlockedData

const CancelArgs = Schema.Struct({ orderNumber: HlIdNumberFromText, orderLineId: HlIdNumberFromText })
const decodeCancelArgs = decodeInput(CancelArgs, invalidRequest)

/** HL Connect directly, for a line this store does not know: its answers as before. */
const cancelUntracked = (ref: { readonly order_id: number; readonly order_line_id: number }) =>
  Effect.flatMap(HlConnect, (hl) => hl.cancelOrderLine(ref)).pipe(
    Effect.as<CancelResult>({ _tag: "OrderLineCancelled", ...ref, tracked: false }),
    Effect.catchTags({
      InvalidOrderStatus: (e) => Effect.succeed(problemData(e)),
      OrderNotFound: (e) => Effect.succeed(problemData(e)),
      InvalidRequest: (e) => Effect.succeed(invalidInputData(inSchemaTerms(e)))
    })
  )

export const cancel = (
  args: unknown,
  /** Admits the HL Connect call, once the arguments are valid (bad ones spend nothing of the caller's budget). */
  admit: Effect.Effect<void, UpstreamBudgetExceeded | UpstreamRateLimited>
) =>
  Effect.gen(function* () {
    const fulfilment = yield* Fulfilment
    const lines = yield* OrderLines.OrderLines
    const ref = yield* decodeCancelArgs(args).pipe(
      Effect.map(({ orderNumber, orderLineId }) => ({ order_id: orderNumber, order_line_id: orderLineId }))
    )
    yield* admit
    const key = { orderNumber: String(ref.order_id), orderLineId: String(ref.order_line_id) }
    const local = yield* lines.get(key).pipe(
      Effect.asSome,
      Effect.catchTag("NotFound", () => Effect.succeedNone)
    )
    if (Option.isNone(local)) {
      // A part of a line recorded here is no line of its own here: it goes with its line.
      const order = yield* lines.findOrder(key.orderNumber)
      const owner = Option.flatMap(order, (o) => Option.fromNullable(lineOfPart(o.lines, key.orderLineId)))
      if (Option.isSome(owner)) {
        return {
          _tag: "OrderLineBlocked",
          message: `order ${key.orderNumber} line ${key.orderLineId} is an ensemble part of line ${owner.value.orderLineId}: a part is cancelled with its line (cancel line ${owner.value.orderLineId})`,
          state: owner.value.state
        } satisfies CancelResult
      }
      return yield* cancelUntracked(ref)
    }

    const cancelled: CancelResult = { _tag: "OrderLineCancelled", ...ref, tracked: true }
    const where = `order ${key.orderNumber} line ${key.orderLineId}`

    /** The answer a line's state gives, when nothing (more) is to be sent. */
    const byState = (line: OrderLines.OrderLine): Effect.Effect<CancelResult> =>
      Effect.map(Clock.currentTimeMillis, (now): CancelResult => {
        switch (line.state) {
          case "cancelled":
            return cancelled
          case "cancel_requested":
            return inProgressElsewhere(line, "cancelled", now)
          case "needs_attention":
            return awaitingOperator(line)
          case "failed":
            return {
              _tag: "OrderLineBlocked",
              message: `${where} failed: there is nothing to cancel`,
              state: line.state
            }
          default:
            return {
              _tag: "OrderLineBlocked",
              message: `${where} changed meanwhile (now ${line.state}); try again`,
              state: line.state
            }
        }
      })

    const fromOutcome = (outcome: LineOutcome): Effect.Effect<CancelResult, FulfilmentError> => {
      switch (outcome._tag) {
        case "Cancelled":
          return Effect.succeed(cancelled)
        case "RetryLater":
          return Effect.succeed(
            retryScheduled("cancellation", outcome, "cancel_requested", "the line stays cancel_requested")
          )
        case "NeedsAttention": {
          const refusal = outcome.refusal
          switch (refusal?._tag) {
            case "InvalidOrderStatus":
              return Effect.succeed({
                ...problemData(refusal),
                ...(outcome.remoteStatus === undefined ? {} : { remoteStatus: outcome.remoteStatus })
              })
            case "OrderNotFound":
              return Effect.succeed(problemData(refusal))
            default:
              return Effect.succeed({ _tag: "OrderLineBlocked", message: outcome.reason, state: "needs_attention" })
          }
        }
        default:
          return Effect.flatMap(lines.get(key), byState)
      }
    }

    const requested = yield* fulfilment.requestCancel(local.value)
    // A line never sent to HL Connect is cancelled here and now.
    if (requested._tag === "Cancelled") return cancelled
    const current = yield* lines.get(key)
    // `cancel_requested` also when an earlier attempt could not reach HL Connect: send it now.
    if (current.state === "cancel_requested") return yield* fromOutcome(yield* fulfilment.cancelLine(current))
    return yield* byState(current)
  }).pipe(Effect.catchTag("InvalidRequest", (e) => Effect.succeed<CancelResult>(invalidInputData(e))))
