/**
 * The local view of orders (the store's order lines: states, timestamps, check bookkeeping),
 * joined with HL Connect's live answer and the drift between the two.
 */
import { parseHlId } from "@hlconnect/core"
import { OrderLines } from "@hlconnect/store"
import { Option } from "effect"
import { GraphQLBoolean, GraphQLEnumType, GraphQLID, GraphQLInt, GraphQLString } from "graphql"
import { lineDrift, type RemoteLineStatus, remoteLineStatus } from "../Drift.js"
import { type Context, listOf, nonNull, nullableListOf, objectType } from "./Builders.js"
import { DateTimeType } from "./Connections.js"
import { PurchaseStatusType } from "./Purchase.js"
import type { GraphQLResolveInfo } from "graphql"

type Order = OrderLines.Order
type OrderLine = OrderLines.OrderLine

/** Generated from the store's state literals, so a new state cannot be forgotten here. */
export const OrderLineStateType = new GraphQLEnumType({
  name: "OrderLineState",
  description: "Where a line is in the local fulfilment state machine.",
  values: Object.fromEntries(OrderLines.OrderLineState.literals.map((state) => [state, { value: state }]))
})

/** Optional text, whether the store models it as `Option` or as a plain string. */
const text = (value: string | Option.Option<string> | undefined): string | null =>
  value === undefined ? null : Option.isOption(value) ? Option.getOrNull(value) : value

/** An ensemble part with the order it belongs to: it asks HL Connect about itself as a line does. */
interface OrderPart {
  readonly orderNumber: string
  readonly asset: string
  readonly orderLineId: string
  /** None: a part has no parts of its own. */
  readonly parts: Option.Option<never>
}

/** HL Connect's status of this line (or part), through the request's loader; `undefined` when unknown there. */
const liveStatusOf = (
  line: OrderLine | OrderPart,
  ctx: Context,
  info: GraphQLResolveInfo
): Promise<RemoteLineStatus> => {
  const orderId = parseHlId(line.orderNumber)
  if (orderId === undefined) return Promise.resolve({ status: undefined, orderLevel: true })
  return ctx.purchaseStatus.load(orderId, info).then((outcome) => remoteLineStatus(outcome, line))
}

/**
 * A fresh download or view URL from HL Connect, asked once per request whatever the aliases and
 * repeats (the request's loader); null while the line is not fulfilled.
 */
const freshUrl =
  (kind: "download" | "view") =>
  (
    line: OrderLine | OrderPart,
    _args: unknown,
    ctx: Context,
    info: GraphQLResolveInfo
  ): Promise<string | null> | null => {
    const orderId = parseHlId(line.orderNumber)
    const orderLineId = parseHlId(line.orderLineId)
    if (orderId === undefined || orderLineId === undefined) return null
    return ctx.url.load({ kind, orderId, orderLineId }, info)
  }

export const LineDriftType = objectType<ReturnType<typeof lineDrift>>({
  name: "LineDrift",
  description: "How the local line and HL Connect's view of it disagree.",
  fields: {
    drifted: { type: nonNull(GraphQLBoolean), resolve: (d) => d.drifted },
    needsAttention: { type: nonNull(GraphQLBoolean), resolve: (d) => d.needsAttention },
    missingRemotely: { type: nonNull(GraphQLBoolean), resolve: (d) => d.missingRemotely },
    stateMismatch: { type: nonNull(GraphQLBoolean), resolve: (d) => d.stateMismatch },
    description: { type: GraphQLString, resolve: (d) => d.description }
  }
})

const remoteStatusField = {
  type: GraphQLString,
  description: "The line's status at HL Connect, live; null when HL Connect does not know the line.",
  resolve: (l: OrderLine | OrderPart, _args: unknown, ctx: Context, info: GraphQLResolveInfo) =>
    liveStatusOf(l, ctx, info).then((remote) => remote.status ?? null)
}

const urlField = (kind: "download" | "view") => ({
  type: GraphQLString,
  description: `A fresh ${kind} URL from HL Connect, asked once per request (a credential valid ~30 min); null until fulfilled.`,
  resolve: freshUrl(kind)
})

export const OrderLinePartType = objectType<OrderPart>({
  name: "OrderLinePart",
  description:
    "An ensemble part registered with the line; each part is an HL Connect order line of its own, fulfilled (and cancelled) with the line.",
  fields: {
    asset: { type: nonNull(GraphQLString), resolve: (p) => p.asset },
    orderLineId: { type: nonNull(GraphQLID), resolve: (p) => p.orderLineId },
    remoteStatus: remoteStatusField,
    downloadUrl: urlField("download"),
    viewUrl: urlField("view")
  }
})

export const OrderLineType = objectType<OrderLine>({
  name: "OrderLine",
  fields: {
    orderNumber: { type: nonNull(GraphQLID), resolve: (l) => l.orderNumber },
    orderLineId: { type: nonNull(GraphQLID), resolve: (l) => l.orderLineId },
    asset: { type: nonNull(GraphQLString), resolve: (l) => l.asset },
    quantity: { type: nonNull(GraphQLInt), resolve: (l) => l.quantity },
    unitPriceMinor: {
      type: nonNull(GraphQLInt),
      description: "In minor units (cents).",
      resolve: (l) => l.unitPriceMinor
    },
    totalPriceMinor: {
      type: nonNull(GraphQLInt),
      description: "In minor units (cents).",
      resolve: (l) => l.totalPriceMinor
    },
    currency: { type: nonNull(GraphQLString), description: "ISO 4217.", resolve: (l) => l.currency },
    customerName: { type: GraphQLString, resolve: (l) => text(l.customerName) },
    customerEmail: { type: GraphQLString, resolve: (l) => text(l.customerEmail) },
    state: { type: nonNull(OrderLineStateType), resolve: (l) => l.state },
    attentionReason: { type: GraphQLString, resolve: (l) => Option.getOrNull(l.attentionReason) },
    attempts: { type: nonNull(GraphQLInt), description: "Checks made so far.", resolve: (l) => l.attempts },
    nextCheckAt: { type: DateTimeType, resolve: (l) => Option.getOrNull(l.nextCheckAt) },
    lastError: { type: GraphQLString, resolve: (l) => Option.getOrNull(l.lastError) },
    parts: {
      type: nullableListOf(OrderLinePartType),
      resolve: (l): ReadonlyArray<OrderPart> | null =>
        Option.match(l.parts, {
          onNone: () => null,
          onSome: (parts) => parts.map((p) => ({ ...p, orderNumber: l.orderNumber, parts: Option.none() }))
        })
    },
    version: { type: nonNull(GraphQLInt), resolve: (l) => l.version },
    createdAt: { type: nonNull(DateTimeType), resolve: (l) => l.createdAt },
    updatedAt: { type: nonNull(DateTimeType), resolve: (l) => l.updatedAt },
    remoteStatus: {
      ...remoteStatusField,
      description:
        "The line's status at HL Connect, live; null when HL Connect does not know the line. A line with parts has one status for all its HL Connect lines: theirs when they agree, PROCESSING while any is, else the ones they ended in joined by `+` (COMPLETED+FAILED)."
    },
    drift: {
      type: nonNull(LineDriftType),
      description: "Local state against HL Connect's live status.",
      resolve: (l, _args, ctx, info) => liveStatusOf(l, ctx, info).then((remote) => lineDrift(l.state, remote))
    },
    downloadUrl: urlField("download"),
    viewUrl: urlField("view")
  }
})

export const OrderType = objectType<Order>({
  name: "Order",
  description: "An order as stored locally, with HL Connect's live answer about it.",
  fields: {
    orderNumber: { type: nonNull(GraphQLID), resolve: (o) => o.orderNumber },
    lines: { type: listOf(OrderLineType), resolve: (o) => o.lines },
    nextCheckAt: {
      type: DateTimeType,
      description: "When the reconciler looks at it next.",
      resolve: (o) => Option.getOrNull(o.nextCheckAt)
    },
    remote: {
      type: PurchaseStatusType,
      description: "HL Connect's live answer; null when the order number cannot be an HL Connect order id.",
      resolve: (o, _args, ctx, info) => {
        const orderId = parseHlId(o.orderNumber)
        return orderId === undefined ? null : ctx.purchaseStatus.load(orderId, info)
      }
    },
    drifted: {
      type: nonNull(GraphQLBoolean),
      description: "Whether any line drifted (see `OrderLine.drift`).",
      resolve: (o, _args, ctx, info) =>
        Promise.all(
          o.lines.map((line) => liveStatusOf(line, ctx, info).then((remote) => lineDrift(line.state, remote).drifted))
        ).then((drifted) => drifted.includes(true))
    }
  }
})
