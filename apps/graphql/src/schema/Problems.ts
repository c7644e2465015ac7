/**
 * Expected failures, as union members rather than `errors[]`: each is one of core's tagged
 * errors, shown with HL Connect's own message, as the plain data `Answers` makes of it.
 */
import type { AssetNotFound, BadRequest, OrderAlreadyExists, OrderNotFound } from "@hlconnect/core"
import { GraphQLInterfaceType, GraphQLString } from "graphql"
import type { InvalidInputData, InvalidOrderStatusData, ProblemData, ValidationRejectedData } from "../Answers.js"
import { nonNull, objectType } from "./Builders.js"

export const Problem = new GraphQLInterfaceType({
  name: "Problem",
  description: "An expected failure: part of the result, with HL Connect's message.",
  fields: { message: { type: nonNull(GraphQLString) } }
})

const message = { message: { type: nonNull(GraphQLString), resolve: (e: { readonly message: string }) => e.message } }

const problem = <E extends { readonly _tag: string; readonly message: string }>(name: string, description: string) =>
  objectType<ProblemData<E>>({ name, description, interfaces: [Problem], fields: message })

export const AssetNotFoundType = problem<AssetNotFound>("AssetNotFound", "HL Connect knows no such asset (404).")
export const BadRequestType = problem<BadRequest>("BadRequest", "HL Connect refused the request as malformed (400).")
export const OrderNotFoundType = problem<OrderNotFound>(
  "OrderNotFound",
  "HL Connect knows no such order or order line (404)."
)
export const OrderAlreadyExistsType = problem<OrderAlreadyExists>(
  "OrderAlreadyExists",
  "This order line was already registered, by another caller (409)."
)
export const InvalidOrderStatusType = objectType<InvalidOrderStatusData>({
  name: "InvalidOrderStatus",
  description: "The line's status no longer allows cancellation (400).",
  interfaces: [Problem],
  fields: {
    ...message,
    remoteStatus: {
      type: GraphQLString,
      description:
        "HL Connect's status of the line (e.g. COMPLETED, FAILED), when the line is tracked locally and HL Connect said it.",
      resolve: (e) => e.remoteStatus ?? null
    }
  }
})

export const ValidationRejectedType = objectType<ValidationRejectedData>({
  name: "ValidationRejected",
  description:
    "HL Connect refused the purchase (422): region, quantity, price, an unknown or expired token … `reason` is its machine-readable name (e.g. TokenExpired).",
  interfaces: [Problem],
  fields: {
    ...message,
    reason: { type: GraphQLString, resolve: (e) => e.reason ?? null }
  }
})

export const InvalidInputType = objectType<InvalidInputData>({
  name: "InvalidInput",
  description: "The input is invalid; nothing was sent to HL Connect. `field` names the offending input field.",
  interfaces: [Problem],
  fields: {
    ...message,
    field: { type: nonNull(GraphQLString), resolve: (e) => e.field }
  }
})
