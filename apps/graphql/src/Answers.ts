/**
 * HL Connect's answers as plain data, the values resolvers return and union members resolve:
 * errors handed over as `Pick`s of core's tagged errors (graphql-js treats any `Error` a resolver
 * returns as a field error) and HL Connect's view of an order. Depends on core only, so the
 * loaders, the workflows and the GraphQL types (`schema/`) all import it and none imports back.
 */
import type {
  Completed,
  Failed,
  InvalidOrderStatus,
  InvalidRequest,
  OrderNotFound,
  Processing,
  ValidationRejected
} from "@hlconnect/core"

/** A problem as data: its tag and HL Connect's message. */
export type ProblemData<E extends { readonly _tag: string; readonly message: string }> = Pick<E, "_tag" | "message">

export const problemData = <E extends { readonly _tag: string; readonly message: string }>(e: E): ProblemData<E> => ({
  _tag: e._tag,
  message: e.message
})

export type ValidationRejectedData = Pick<ValidationRejected, "_tag" | "message" | "reason">

export const validationRejectedData = (e: ValidationRejected): ValidationRejectedData => ({
  _tag: e._tag,
  message: e.message,
  ...(e.reason === undefined ? {} : { reason: e.reason })
})

export type InvalidInputData = Pick<InvalidRequest, "_tag" | "field" | "message">

export const invalidInputData = (e: InvalidRequest): InvalidInputData => ({
  _tag: e._tag,
  field: e.field,
  message: e.message
})

export type InvalidOrderStatusData = ProblemData<InvalidOrderStatus> & { readonly remoteStatus?: string }

/** HL Connect's answer about an order: its 200, 202, 502 and 404. */
export type PurchaseStatus = Completed | Processing | Failed | ProblemData<OrderNotFound>
