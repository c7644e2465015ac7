/**
 * The admin API through the client derived from its definition (`HttpApiClient.make(AdminApi, …)`),
 * against a real relay: every endpoint's answer decodes as declared, every refusal arrives as its
 * tagged error, and the OpenAPI document is served at /admin/docs and /admin/openapi.json.
 * (`admin-wire.test.ts` pins the bytes; this pins that the definition and the server agree.)
 */
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AdminApi } from "../src/AdminApi.js"
import {
  adminToken,
  appendOutbound,
  eventually,
  getDelivery,
  newSecret,
  type RunningRelay,
  startReceiver,
  startRelay
} from "./support.js"

const makeClient = (relay: RunningRelay, token: string) =>
  HttpApiClient.make(AdminApi, {
    baseUrl: relay.url,
    transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
  })
type AdminClient = Effect.Effect.Success<ReturnType<typeof makeClient>>

const withClient = <A, E>(relay: RunningRelay, f: (client: AdminClient) => Effect.Effect<A, E>, token = adminToken) =>
  Effect.runPromise(Effect.flatMap(makeClient(relay, token), f).pipe(Effect.provide(FetchHttpClient.layer)))

/** The tagged error a call fails with (the test fails if it succeeds). */
const refusal = <A, E>(relay: RunningRelay, f: (client: AdminClient) => Effect.Effect<A, E>, token = adminToken) =>
  withClient(relay, (client) => Effect.flip(f(client)), token)

describe("admin API through HttpApiClient.make(AdminApi)", () => {
  let relay: RunningRelay
  let disabled: RunningRelay
  let failing = true
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  beforeAll(async () => {
    relay = await startRelay()
    disabled = await startRelay({ adminToken: Option.none() })
    receiver = await startReceiver((_n, _r, res) => {
      res.statusCode = failing ? 500 : 204
      res.end()
    })
  })
  afterAll(async () => {
    await relay?.close()
    await disabled?.close()
    await receiver?.close()
  })

  it("subscribers: create, list, get, disable, enable, rotate; refusals are tagged errors", async () => {
    const secret = newSecret()
    const created = await withClient(relay, (c) =>
      c.subscribers.create({ payload: { url: receiver.url, events: ["test.client"], secret } })
    )
    expect(created.secret).toBe(secret)
    expect(created.events).toEqual(["test.client"])
    expect(created.secrets).toHaveLength(1)
    const id = created.id
    const listed = await withClient(relay, (c) => c.subscribers.list())
    expect(listed.items.map((s) => s.id)).toContain(id)
    expect(JSON.stringify(listed)).not.toContain(secret)
    expect((await withClient(relay, (c) => c.subscribers.get({ path: { id } }))).url).toBe(created.url)
    const off = await withClient(relay, (c) =>
      c.subscribers.disable({ path: { id }, payload: { reason: "maintenance" } })
    )
    expect([off.enabled, off.disabled_reason]).toEqual([false, "maintenance"])
    expect((await withClient(relay, (c) => c.subscribers.enable({ path: { id } }))).enabled).toBe(true)
    const rotated = await withClient(relay, (c) =>
      c.subscribers.rotateSecret({ path: { id }, payload: { overlap_seconds: 60 } })
    )
    expect(rotated.secret).not.toBe(secret)
    expect(rotated.secrets).toHaveLength(2)

    expect(await refusal(relay, (c) => c.subscribers.get({ path: { id: "no-such-subscriber" } }))).toMatchObject({
      _tag: "AdminNotFound"
    })
    expect(
      await refusal(relay, (c) => c.subscribers.rotateSecret({ path: { id }, payload: { secret: "whsec_!!!" } }))
    ).toMatchObject({
      _tag: "AdminRejected",
      code: "invalid_secret"
    })
    expect(
      await refusal(relay, (c) =>
        c.subscribers.create({ payload: { url: "https://user:pw@example.com/x", events: ["*"] } })
      )
    ).toMatchObject({ _tag: "AdminRejected", code: "credentials_in_url" })
    await withClient(relay, (c) => c.subscribers.disable({ path: { id }, payload: { reason: "test done" } }))
  })

  it("a wrong token is AdminUnauthorized; without RELAY_ADMIN_TOKEN every call is AdminDisabled", async () => {
    expect(await refusal(relay, (c) => c.subscribers.list(), "wrong-token")).toMatchObject({
      _tag: "AdminUnauthorized",
      message: "Authorization: Bearer <RELAY_ADMIN_TOKEN> required"
    })
    expect(await refusal(disabled, (c) => c.inbox.dead({ urlParams: { limit: 10 } }))).toMatchObject({
      _tag: "AdminDisabled"
    })
  })

  it("inbox: listings, dead letters, unknown ids, bulk replay; a bad cursor is AdminBadRequest", async () => {
    expect(await withClient(relay, (c) => c.inbox.list({ urlParams: { state: "dead", limit: 10 } }))).toEqual({
      items: [],
      next_cursor: null
    })
    expect(await withClient(relay, (c) => c.inbox.dead({ urlParams: { limit: 10 } }))).toEqual({ items: [] })
    expect(await refusal(relay, (c) => c.inbox.get({ path: { id: "nope" } }))).toMatchObject({
      _tag: "AdminNotFound",
      message: "no such inbox event"
    })
    expect(
      await refusal(relay, (c) => c.inbox.replay({ path: { id: "nope" }, payload: { reset_lines: false } }))
    ).toMatchObject({
      _tag: "AdminNotFound",
      message: "inbox event nope not found"
    })
    expect(await withClient(relay, (c) => c.inbox.replayDead({ payload: { since: new Date(0), limit: 10 } }))).toEqual({
      replayed: 0,
      skipped: 0,
      next_cursor: null
    })
    expect(
      await refusal(relay, (c) => c.inbox.list({ urlParams: { state: "dead", limit: 10, cursor: "nope" } }))
    ).toMatchObject({
      _tag: "AdminBadRequest",
      message: "cursor: malformed cursor (pass back a next_cursor unchanged)"
    })
  })

  it("deliveries and an order's events: a dead delivery is listed, read, replayed and delivered", async () => {
    const created = await withClient(relay, (c) =>
      c.subscribers.create({ payload: { url: receiver.url, events: ["test.client.delivery"] } })
    )
    const { deliveries } = await appendOutbound(relay, "8400", "test.client.delivery", { n: 1 })
    const deliveryId = deliveries[0]?.deliveryId ?? ""
    await eventually(
      async () => ((await getDelivery(relay, deliveryId)).state === "dead" ? true : undefined),
      10_000,
      "dead delivery"
    )

    const dead = await withClient(relay, (c) =>
      c.deliveries.dead({ urlParams: { limit: 10, subscriber_id: created.id } })
    )
    expect(dead.items.map((d) => d.id)).toEqual([deliveryId])
    const listed = await withClient(relay, (c) =>
      c.deliveries.list({ urlParams: { state: "dead", limit: 10, subscriber_id: created.id } })
    )
    expect(listed.items.map((d) => d.id)).toEqual([deliveryId])
    const one = await withClient(relay, (c) => c.deliveries.get({ path: { id: deliveryId } }))
    expect([one.state, one.last_status_code]).toEqual(["dead", 500])
    failing = false
    expect((await withClient(relay, (c) => c.deliveries.replay({ path: { id: deliveryId } }))).state).toBe("pending")
    await eventually(
      async () => ((await getDelivery(relay, deliveryId)).state === "delivered" ? true : undefined),
      10_000,
      "delivered"
    )
    expect(
      await withClient(relay, (c) => c.deliveries.replayDead({ payload: { subscriber_id: created.id, limit: 10 } }))
    ).toEqual({
      replayed: 0,
      skipped: 0,
      next_cursor: null
    })
    expect(await refusal(relay, (c) => c.deliveries.get({ path: { id: "nope" } }))).toMatchObject({
      _tag: "AdminNotFound"
    })
    expect(await refusal(relay, (c) => c.deliveries.replay({ path: { id: "nope" } }))).toMatchObject({
      _tag: "AdminNotFound"
    })

    const events = await withClient(relay, (c) => c.orders.events({ path: { id: "8400" } }))
    expect(events.items.map((e) => [e.type, e.sequence, e.data])).toEqual([["test.client.delivery", 1, { n: 1 }]])
    await withClient(relay, (c) =>
      c.subscribers.disable({ path: { id: created.id }, payload: { reason: "test done" } })
    )
  })

  it("documents itself: Swagger UI at /admin/docs, the OpenAPI document at /admin/openapi.json, both without a token", async () => {
    const docs = await fetch(`${relay.url}/admin/docs`)
    expect(docs.status).toBe(200)
    expect(docs.headers.get("content-type")).toContain("text/html")
    const res = await fetch(`${relay.url}/admin/openapi.json`)
    expect(res.status).toBe(200)
    const spec: unknown = await res.json()
    const text = JSON.stringify(spec)
    for (const path of [
      "/admin/subscribers/{id}/rotate-secret",
      "/admin/inbox/dead/replay",
      "/admin/deliveries/{id}/replay",
      "/admin/orders/{id}/events"
    ]) {
      expect(text).toContain(`"${path}"`)
    }
    expect(text).toContain('"scheme":"bearer"')
    expect(text).not.toContain(adminToken)
  })
})
