/**
 * The relay's admin API (bearer `RELAY_ADMIN_TOKEN`), read with Schema: inbox and delivery
 * listings (paged to the end), the per-order event log, subscribers.
 */
import { Effect, Schema } from "effect"
import * as Http from "./Http.js"

export interface Admin {
  readonly url: string
  readonly token: string
}

const InboxItem = Schema.Struct({ id: Schema.String, type: Schema.String, state: Schema.String, last_error: Schema.NullOr(Schema.String) })
const DeliveryItem = Schema.Struct({
  id: Schema.String,
  event_id: Schema.String,
  subscriber_id: Schema.String,
  state: Schema.String,
  attempts: Schema.Number,
  last_error: Schema.NullOr(Schema.String)
})
const Page = <A, I>(item: Schema.Schema<A, I>) => Schema.Struct({ items: Schema.Array(item), next_cursor: Schema.NullOr(Schema.String) })

export type InboxItem = typeof InboxItem.Type
export type DeliveryItem = typeof DeliveryItem.Type

const listAll = <A, I>(admin: Admin, path: string, query: Record<string, string>, item: Schema.Schema<A, I>) =>
  Effect.gen(function* () {
    const all: Array<A> = []
    let cursor: string | null = null
    do {
      const params = new URLSearchParams({ ...query, limit: "500", ...(cursor === null ? {} : { cursor }) })
      const page: { readonly items: ReadonlyArray<A>; readonly next_cursor: string | null } = yield* Http.json(
        { method: "GET", url: `${admin.url}${path}?${params}`, headers: Http.bearer(admin.token) },
        Page(item)
      )
      all.push(...page.items)
      cursor = page.next_cursor
    } while (cursor !== null)
    return all
  })

export type InboxState = "pending" | "processed" | "dead"
export const inboxStates: ReadonlyArray<InboxState> = ["pending", "processed", "dead"]

export const inbox = (admin: Admin, state: InboxState) => listAll(admin, "/admin/inbox", { state }, InboxItem)

/** Every inbox event, whatever its state. */
export const inboxAll = (admin: Admin) =>
  Effect.map(Effect.forEach(inboxStates, (s) => inbox(admin, s)), (pages) => pages.flat())

export const deliveries = (admin: Admin, state: "pending" | "delivered" | "dead") =>
  listAll(admin, "/admin/deliveries", { state }, DeliveryItem)

const EventLine = Schema.Struct({ order_line_id: Schema.String, state: Schema.String })
const OrderEvent = Schema.Struct({
  id: Schema.String,
  type: Schema.String,
  sequence: Schema.Number,
  data: Schema.Struct({ line: Schema.optional(EventLine) })
})
export type OrderEvent = typeof OrderEvent.Type

export const orderEvents = (admin: Admin, orderNumber: string) =>
  Effect.map(
    Http.json(
      { method: "GET", url: `${admin.url}/admin/orders/${encodeURIComponent(orderNumber)}/events`, headers: Http.bearer(admin.token) },
      Schema.Struct({ items: Schema.Array(OrderEvent) })
    ),
    (r) => r.items
  )

const Subscriber = Schema.Struct({ id: Schema.String, url: Schema.String, enabled: Schema.Boolean })
export type Subscriber = typeof Subscriber.Type

export const subscribers = (admin: Admin) =>
  Effect.map(
    Http.json({ method: "GET", url: `${admin.url}/admin/subscribers`, headers: Http.bearer(admin.token) }, Schema.Struct({ items: Schema.Array(Subscriber) })),
    (r) => r.items
  )
