/**
 * Problems of the local order workflow (the store and `Fulfilment`), as union members next to
 * HL Connect's own: the line is known here in a state that decides the answer, or HL Connect
 * could not be reached and the reconciler takes over.
 */
import type { OrderLines } from "@hlconnect/store"
import { Option } from "effect"
import { GraphQLString } from "graphql"
import { listOf, nonNull, objectType } from "./Builders.js"
import { DateTimeType } from "./Connections.js"
import { OrderLineStateType } from "./Orders.js"
import { Problem } from "./Problems.js"

const message = { message: { type: nonNull(GraphQLString), resolve: (e: { readonly message: string }) => e.message } }

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
  error: Option.getOrElse(line.lastError, () => `${doing === "registered" ? "registration" : "cancellation"} in progress elsewhere`),
  retryAt: Option.getOrElse(line.nextCheckAt, () => now),
  state: line.state
})

export const RetryScheduledType = objectType<RetryScheduledData>({
  name: "RetryScheduled",
  description:
    "HL Connect could not be reached or gave no usable answer. The line is recorded (`state`) and the reconciler retries it from `retryAt`; its outcome is published as an order event.",
  interfaces: [Problem],
  fields: {
    ...message,
    error: { type: nonNull(GraphQLString), description: "What went wrong this time.", resolve: (e) => e.error },
    retryAt: { type: nonNull(DateTimeType), resolve: (e) => e.retryAt },
    state: { type: nonNull(OrderLineStateType), resolve: (e) => e.state }
  }
})

export interface OrderLineConflictData {
  readonly _tag: "OrderLineConflict"
  readonly message: string
  readonly fields: ReadonlyArray<string>
}

export const OrderLineConflictType = objectType<OrderLineConflictData>({
  name: "OrderLineConflict",
  description:
    "This order line is already recorded with different content (price, asset, customer …): nothing was changed and nothing sent. `fields` names the input fields that differ.",
  interfaces: [Problem],
  fields: {
    ...message,
    fields: { type: listOf(GraphQLString), resolve: (e) => e.fields }
  }
})

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

export const OrderLineBlockedType = objectType<OrderLineBlockedData>({
  name: "OrderLineBlocked",
  description:
    "The line is recorded in a state that does not allow this (it needs attention, failed, was cancelled …); `message` says why. An operator or the reconciler resolves such lines.",
  interfaces: [Problem],
  fields: {
    ...message,
    state: { type: nonNull(OrderLineStateType), resolve: (e) => e.state }
  }
})
