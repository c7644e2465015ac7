/**
 * HL Connect's view of an order: its 200 / 202 / 502 / 404 answers as union members.
 */
import type { Completed, Failed, OrderItem, Processing } from "@hlconnect/core"
import { GraphQLFloat, GraphQLID, GraphQLInt, GraphQLString } from "graphql"
import type { PurchaseStatus } from "../Answers.js"
import { listOf, nonNull, objectType, taggedUnion } from "./Builders.js"
import { OrderNotFoundType } from "./Problems.js"

const orNull = <A>(value: A | undefined): A | null => (value === undefined ? null : value)

export const PurchaseItemType = objectType<OrderItem>({
  name: "PurchaseItem",
  description:
    "One order line as HL Connect reports it. `downloadUrl` / `viewUrl` are short-lived credentials from this very request; null until the line is fulfilled.",
  fields: {
    orderNumber: { type: GraphQLID, resolve: (i) => orNull(i.order_id) },
    orderLineId: { type: GraphQLID, resolve: (i) => orNull(i.order_line_id) },
    assetId: { type: GraphQLInt, resolve: (i) => orNull(i.asset_id) },
    customer: { type: GraphQLString, resolve: (i) => orNull(i.customer) },
    unitPrice: { type: GraphQLFloat, resolve: (i) => orNull(i.unit_price) },
    lineItemPrice: { type: GraphQLFloat, resolve: (i) => orNull(i.line_item_price) },
    quantity: { type: GraphQLFloat, resolve: (i) => orNull(i.quantity) },
    countryCode: { type: GraphQLString, description: "ISO 3166-1 alpha-2.", resolve: (i) => orNull(i.country_code) },
    status: {
      type: GraphQLString,
      description: "COMPLETED, PROCESSING, FAILED, CANCELLED or another status HL Connect reports.",
      resolve: (i) => orNull(i.status)
    },
    downloadUrl: { type: GraphQLString, resolve: (i) => orNull(i.download_url) },
    viewUrl: { type: GraphQLString, resolve: (i) => orNull(i.view_url) }
  }
})

export const PurchaseCompletedType = objectType<Completed>({
  name: "PurchaseCompleted",
  description: "200: the order is complete; each line carries its own status.",
  fields: { items: { type: listOf(PurchaseItemType), resolve: (c) => c.items } }
})

export const PurchaseProcessingType = objectType<Processing>({
  name: "PurchaseProcessing",
  description: "202: HL Connect is still processing the order.",
  fields: { status: { type: GraphQLString, resolve: (p) => orNull(p.status) } }
})

export const PurchaseFailedType = objectType<Failed>({
  name: "PurchaseFailed",
  description: "502: the order's processing failed (an answer, not an outage).",
  fields: {
    status: { type: GraphQLString, resolve: (f) => orNull(f.status) },
    // Non-null like every other member's `message`, so one selection serves the whole union.
    message: { type: nonNull(GraphQLString), resolve: (f) => f.message ?? "HL Connect reported the order as failed" }
  }
})

export const PurchaseStatusType = taggedUnion<PurchaseStatus>({
  name: "PurchaseStatus",
  description: "HL Connect's answer about an order: 200, 202, 502 and 404 as types.",
  members: {
    Completed: PurchaseCompletedType,
    Processing: PurchaseProcessingType,
    Failed: PurchaseFailedType,
    OrderNotFound: OrderNotFoundType
  }
})
