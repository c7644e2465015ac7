/**
 * The order events subscribers receive: written to the store's outbox in the same transaction
 * as the state change they report. The outbox adds a per-order `sequence`, so receivers can drop
 * stale updates. Download/view URLs are never in an event (they expire in ~30 minutes): the
 * event says how to fetch fresh ones.
 */
import type { OrderLines } from "@hlconnect/store"
import { Option, Schema } from "effect"

export const OrderEventType = Schema.Literal(
  "order.completed",
  "order.failed",
  "order.cancelled",
  "order.needs_attention"
)
export type OrderEventType = typeof OrderEventType.Type

export class OrderEventLine extends Schema.Class<OrderEventLine>("OrderEventLine")({
  order_line_id: Schema.String,
  asset_id: Schema.String,
  state: Schema.String,
  reason: Schema.optional(Schema.String)
}) {}

export class OrderEventPayload extends Schema.Class<OrderEventPayload>("OrderEventPayload")({
  type: OrderEventType,
  order_number: Schema.String,
  occurred_at: Schema.String,
  line: OrderEventLine,
  /** How to get what the event deliberately leaves out. */
  fetch_urls: Schema.String
}) {}

export const eventFor = (type: OrderEventType, line: OrderLines.OrderLine, now: number): OrderEventPayload =>
  OrderEventPayload.make({
    type,
    order_number: line.orderNumber,
    occurred_at: new Date(now).toISOString(),
    line: OrderEventLine.make({
      order_line_id: line.orderLineId,
      asset_id: line.asset,
      state: line.state,
      ...Option.match(line.attentionReason, { onNone: () => ({}), onSome: (reason) => ({ reason }) })
    }),
    fetch_urls:
      type === "order.completed"
        ? `query { order(orderNumber: "${line.orderNumber}") { lines { orderLineId downloadUrl viewUrl } } } — or GET /purchase/download-url?order_id=${line.orderNumber}&order_line_id=${line.orderLineId}`
        : "no URLs: the line is not fulfilled"
  })

/** The event a transition into `state` publishes, if any. */
export const eventTypeOf = (state: OrderLines.OrderLineState): OrderEventType | undefined => {
  switch (state) {
    case "completed":
      return "order.completed"
    case "failed":
      return "order.failed"
    case "cancelled":
      return "order.cancelled"
    case "needs_attention":
      return "order.needs_attention"
    default:
      return undefined
  }
}
