/**
 * The relay's admin API (bearer `RELAY_ADMIN_TOKEN`) through the client derived from its
 * definition (`HttpApiClient.make(AdminApi, …)`): inbox and delivery listings (paged to the end),
 * the per-order event log, subscribers. A refusal or an answer that does not decode becomes one of
 * the campaign's errors, naming the call.
 */
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { AdminApi } from "@hlconnect/webhook-relay"
import { Effect, Schema } from "effect"
import { DecodeFailure, HttpFailure, UnexpectedResponse } from "./Errors.js"

export interface Admin {
  readonly url: string
  readonly token: string
}

const statusOf = {
  AdminBadRequest: 400,
  AdminUnauthorized: 401,
  AdminNotFound: 404,
  AdminConflict: 409,
  AdminRejected: 422,
  AdminInternal: 500,
  AdminDisabled: 503,
  HttpApiDecodeError: 400
} as const

type ClientError =
  | { readonly _tag: keyof typeof statusOf; readonly message: string }
  | { readonly _tag: "RequestError" | "ResponseError" | "ParseError"; readonly message: string }

const makeClient = (admin: Admin) =>
  HttpApiClient.make(AdminApi.AdminApi, {
    baseUrl: admin.url,
    transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(admin.token))
  })
type AdminClient = Effect.Effect.Success<ReturnType<typeof makeClient>>

/** One admin call; `method` and `path` name it in a failure. */
const call = <A>(
  admin: Admin,
  method: "GET" | "POST",
  path: string,
  f: (client: AdminClient) => Effect.Effect<A, ClientError>
): Effect.Effect<A, HttpFailure | UnexpectedResponse | DecodeFailure> =>
  makeClient(admin).pipe(
    Effect.flatMap(f),
    Effect.mapError((e) => {
      switch (e._tag) {
        case "RequestError":
          return new HttpFailure({ method, url: `${admin.url}${path}`, message: e.message })
        case "ResponseError":
        case "ParseError":
          return new DecodeFailure({ what: `${method} ${path}`, message: e.message })
        default:
          return new UnexpectedResponse({ url: `${admin.url}${path}`, status: statusOf[e._tag], body: e.message })
      }
    }),
    Effect.provide(NodeHttpClient.layerUndici)
  )

export type InboxItem = AdminApi.InboxEvent
export type DeliveryItem = AdminApi.Delivery

/** Every page from the first to the one whose `next_cursor` is null, 500 items a page. */
const allPages = <A>(
  page: (
    cursor: string | undefined
  ) => Effect.Effect<
    { readonly items: ReadonlyArray<A>; readonly next_cursor: string | null },
    HttpFailure | UnexpectedResponse | DecodeFailure
  >
) =>
  Effect.gen(function* () {
    const all: Array<A> = []
    let cursor: string | undefined
    do {
      const current = yield* page(cursor)
      all.push(...current.items)
      cursor = current.next_cursor ?? undefined
    } while (cursor !== undefined)
    return all
  })

export type InboxState = AdminApi.InboxEvent["state"]
export const inboxStates: ReadonlyArray<InboxState> = ["pending", "processed", "dead"]

export const inbox = (admin: Admin, state: InboxState) =>
  allPages((cursor) =>
    call(admin, "GET", `/admin/inbox?state=${state}`, (client) =>
      client.inbox.list({ urlParams: { state, limit: 500, ...(cursor === undefined ? {} : { cursor }) } })
    )
  )

/** Every inbox event, whatever its state. */
export const inboxAll = (admin: Admin) =>
  Effect.map(
    Effect.forEach(inboxStates, (s) => inbox(admin, s)),
    (pages) => pages.flat()
  )

export const deliveries = (admin: Admin, state: AdminApi.Delivery["state"]) =>
  allPages((cursor) =>
    call(admin, "GET", `/admin/deliveries?state=${state}`, (client) =>
      client.deliveries.list({ urlParams: { state, limit: 500, ...(cursor === undefined ? {} : { cursor }) } })
    )
  )

// What the campaign reads of an order event's payload (the outbox holds it as the relay sent it).
const EventData = Schema.Struct({
  line: Schema.optional(Schema.Struct({ order_line_id: Schema.String, state: Schema.String }))
})
export interface OrderEvent extends Omit<AdminApi.OrderEvent, "data"> {
  readonly data: typeof EventData.Type
}

export const orderEvents = (
  admin: Admin,
  orderNumber: string
): Effect.Effect<ReadonlyArray<OrderEvent>, HttpFailure | UnexpectedResponse | DecodeFailure> => {
  const path = `/admin/orders/${orderNumber}/events`
  return call(admin, "GET", path, (client) => client.orders.events({ path: { id: orderNumber } })).pipe(
    Effect.flatMap(({ items }) =>
      Effect.forEach(items, (e) =>
        Schema.decodeUnknown(EventData)(e.data).pipe(
          Effect.map((data): OrderEvent => ({ ...e, data })),
          Effect.mapError((error) => new DecodeFailure({ what: `GET ${path}: event ${e.id}`, message: error.message }))
        )
      )
    )
  )
}

export type Subscriber = AdminApi.Subscriber

export const subscribers = (admin: Admin) =>
  Effect.map(
    call(admin, "GET", "/admin/subscribers", (client) => client.subscribers.list()),
    (r) => r.items
  )
