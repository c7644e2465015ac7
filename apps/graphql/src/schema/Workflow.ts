/**
 * Problems of the local order workflow (the store and `Fulfilment`), as union members next to
 * HL Connect's own: the line is known here in a state that decides the answer, or HL Connect
 * could not be reached and the reconciler takes over. Their data is made in `WorkflowAnswers`.
 */
import { GraphQLString } from "graphql"
import type { OrderLineBlockedData, OrderLineConflictData, RetryScheduledData } from "../WorkflowAnswers.js"
import { listOf, nonNull, objectType } from "./Builders.js"
import { DateTimeType } from "./Connections.js"
import { OrderLineStateType } from "./Orders.js"
import { Problem } from "./Problems.js"

const message = { message: { type: nonNull(GraphQLString), resolve: (e: { readonly message: string }) => e.message } }

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
