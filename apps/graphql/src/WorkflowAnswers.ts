/**
 * The local order workflow's answers (the store and `Fulfilment`) as plain data, next to HL
 * Connect's in `Answers`: the line is known here in a state that decides the answer, or HL Connect
 * could not be reached and the reconciler takes over. Depends on the store's model only; the
 * GraphQL types that show these are in `schema/Workflow`.
 */
import type { OrderLines } from "@hlconnect/store"
import { Option } from "effect"

export interface RetryScheduledData {
  readonly _tag: "RetryScheduled"
  readonly message: string
  readonly error: string
  readonly retryAt: number
  readonly state: OrderLines.OrderLineState
}

/** HL Connect gave no usable answer: the line stays in `state` and the reconciler retries from `retry.at`. */
export const retryScheduled = (
  doing: "registration" | "cancellation",
  retry: { readonly at: number; readonly error: string },
  state: OrderLines.OrderLineState,
  consequence: string
): RetryScheduledData => ({
  _tag: "RetryScheduled",
  message: `HL Connect did not confirm the ${doing}; ${consequence} and the reconciler retries it`,
  error: retry.error,
  retryAt: retry.at,
  state
})

/** A line another worker is still registering or cancelling: the reconciler finishes what it started. */
export const inProgressElsewhere = (
  line: OrderLines.OrderLine,
  doing: "registered" | "cancelled",
  now: number
): RetryScheduledData => ({
  _tag: "RetryScheduled",
  message: `order ${line.orderNumber} line ${line.orderLineId} is being ${doing} by another worker; the reconciler finishes it`,
  error: Option.getOrElse(
    line.lastError,
    () => `${doing === "registered" ? "registration" : "cancellation"} in progress elsewhere`
  ),
  retryAt: Option.getOrElse(line.nextCheckAt, () => now),
  state: line.state
})

export interface OrderLineConflictData {
  readonly _tag: "OrderLineConflict"
  readonly message: string
  readonly fields: ReadonlyArray<string>
}

export interface OrderLineBlockedData {
  readonly _tag: "OrderLineBlocked"
  readonly message: string
  readonly state: OrderLines.OrderLineState
}

/** A line parked for an operator, with the reason it was parked. */
export const awaitingOperator = (line: OrderLines.OrderLine): OrderLineBlockedData => ({
  _tag: "OrderLineBlocked",
  message: `order ${line.orderNumber} line ${line.orderLineId} needs attention: ${Option.getOrElse(line.attentionReason, () => "no reason recorded")}`,
  state: line.state
})
