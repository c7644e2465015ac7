import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  admin,
  appendOutbound,
  asRecord,
  eventually,
  getDelivery,
  inboxEvent,
  newSecret,
  nextOrderNumber,
  paidEvent,
  post,
  enginesUnderTest,
  type RunningRelay,
  send,
  signed,
  startReceiver,
  startRelay,
  validToken
} from "./support.js"

const engines = enginesUnderTest("relay_admin")

const items = (json: Record<string, unknown>) => (Array.isArray(json.items) ? json.items.map(asRecord) : [])

/** Follows `next_cursor` to the end, `limit` items per page. */
const allPages = async (relay: RunningRelay, path: string, limit: number) => {
  const seen: Array<Record<string, unknown>> = []
  let cursor: string | null = null
  let pages = 0
  do {
    const sep = path.includes("?") ? "&" : "?"
    const r = await admin(relay, "GET", `${path}${sep}limit=${limit}${cursor === null ? "" : `&cursor=${cursor}`}`)
    expect(r.status).toBe(200)
    seen.push(...items(r.json))
    cursor = typeof r.json.next_cursor === "string" ? r.json.next_cursor : null
    pages++
  } while (cursor !== null && pages < 1000)
  return { seen, pages }
}

describe.each(engines)("admin API and metrics on $name", (engine) => {
  let relay: RunningRelay
  beforeAll(async () => {
    relay = await startRelay({}, engine.store === undefined ? {} : { store: engine.store() })
  })
  afterAll(async () => {
    await relay?.close()
  })

  it("lists inbox events by state with cursor paging; replays every dead letter since a time", async () => {
    const before = new Date(Date.now() - 1000).toISOString()
    const dead: Array<string> = []
    for (let i = 0; i < 3; i++) {
      const t = await validToken(relay)
      const r = await send(
        relay,
        paidEvent(nextOrderNumber(), [{ id: 1, token: t.token, exp: Math.floor(Date.now() / 1000) - 10 }])
      )
      expect(r.status).toBe(202)
      dead.push(r.id)
    }
    const good = await send(relay, paidEvent(nextOrderNumber(), [{ id: 1, token: (await validToken(relay)).token }]))
    for (const id of dead)
      await eventually(
        async () => ((await inboxEvent(relay, id))?.state === "dead" ? true : undefined),
        10_000,
        "dead letter"
      )
    await eventually(
      async () => ((await inboxEvent(relay, good.id))?.state === "processed" ? true : undefined),
      10_000,
      "processed"
    )

    const { seen, pages } = await allPages(relay, "/admin/inbox?state=dead", 1)
    const ids = seen.map((e) => String(e.id))
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of dead) expect(ids).toContain(id)
    expect(pages).toBeGreaterThanOrEqual(3)
    expect(seen.every((e) => e.state === "dead")).toBe(true)
    expect(JSON.stringify(seen)).not.toContain("validation_token")
    const processed = await allPages(relay, "/admin/inbox?state=processed", 100)
    expect(processed.seen.map((e) => e.id)).toContain(good.id)
    expect((await admin(relay, "GET", "/admin/inbox?state=bogus")).status).toBe(400)
    expect((await admin(relay, "GET", "/admin/inbox?state=dead&cursor=nope")).status).toBe(400)

    const none = await admin(relay, "POST", "/admin/inbox/dead/replay", {
      since: new Date(Date.now() + 60_000).toISOString()
    })
    expect(none.status).toBe(200)
    expect(none.json.replayed).toBe(0)
    expect((await admin(relay, "POST", "/admin/inbox/dead/replay", { since: "yesterday-ish" })).status).toBe(400)
    for (const bad of [
      { since: before, limit: 0 },
      { since: before, limit: 1001 },
      { since: before, limit: 2.5 },
      { since: before, cursor: "nope" }
    ]) {
      expect((await admin(relay, "POST", "/admin/inbox/dead/replay", bad)).status, JSON.stringify(bad)).toBe(400)
    }
    // A replay of everything is paged: at most `limit` per request, `next_cursor` to go on, null after the last page.
    let replayed = 0
    let replayPages = 0
    let cursor: unknown = null
    do {
      const page = await admin(relay, "POST", "/admin/inbox/dead/replay", {
        since: before,
        limit: 2,
        ...(cursor === null ? {} : { cursor })
      })
      expect(page.status).toBe(200)
      expect(Number(page.json.replayed) + Number(page.json.skipped)).toBeLessThanOrEqual(2)
      replayed += Number(page.json.replayed)
      cursor = page.json.next_cursor
      replayPages++
    } while (cursor !== null && replayPages < 100)
    expect(replayed).toBeGreaterThanOrEqual(3)
    expect(replayPages).toBeGreaterThanOrEqual(2)
    // Replayed, handled again (the token is still expired: dead again, second attempt).
    for (const id of dead) {
      await eventually(
        async () => {
          const e = await inboxEvent(relay, id)
          return e?.state === "dead" && e.attempts === 2 ? true : undefined
        },
        10_000,
        "re-processed replay"
      )
    }
  })

  it("lists deliveries by state with cursor paging; replays dead deliveries since a time", async () => {
    let fail = true
    const receiver = await startReceiver((_n, _r, res) => {
      res.statusCode = fail ? 500 : 204
      res.end()
    })
    const created = await admin(relay, "POST", "/admin/subscribers", {
      url: receiver.url,
      events: ["test.admin"],
      secret: newSecret()
    })
    const sub = String(created.json.id)
    const before = new Date(Date.now() - 1000).toISOString()
    const ids: Array<string> = []
    for (let i = 0; i < 3; i++) {
      const { deliveries } = await appendOutbound(relay, `90${i}`, "test.admin", { i })
      ids.push(deliveries[0]?.deliveryId ?? "")
    }
    for (const id of ids)
      await eventually(
        async () => ((await getDelivery(relay, id)).state === "dead" ? true : undefined),
        10_000,
        "dead delivery"
      )
    const { seen, pages } = await allPages(relay, `/admin/deliveries?state=dead&subscriber_id=${sub}`, 2)
    expect(seen.map((d) => d.id).sort()).toEqual([...ids].sort())
    expect(pages).toBe(2)
    expect((await admin(relay, "GET", `/admin/deliveries?state=pending&subscriber_id=${sub}`)).json.items).toEqual([])
    // `since`: dead-lettered at or after it.
    const later = new Date(Date.now() + 60_000).toISOString()
    expect(
      items((await admin(relay, "GET", `/admin/deliveries?state=dead&subscriber_id=${sub}&since=${later}`)).json)
    ).toEqual([])
    expect(
      items((await admin(relay, "GET", `/admin/deliveries?state=dead&subscriber_id=${sub}&since=${before}`)).json)
    ).toHaveLength(3)
    expect((await admin(relay, "GET", `/admin/deliveries?state=dead&since=soon`)).status).toBe(400)

    fail = false
    expect((await admin(relay, "POST", "/admin/deliveries/dead/replay", { since: "not a date" })).status).toBe(400)
    expect((await admin(relay, "POST", "/admin/deliveries/dead/replay", { limit: 1001 })).status).toBe(400)
    expect((await admin(relay, "POST", "/admin/deliveries/dead/replay", { cursor: "nope" })).status).toBe(400)
    // Bounded: two of the three, and where to go on; then the last one, and nothing after it.
    const first = await admin(relay, "POST", "/admin/deliveries/dead/replay", {
      since: before,
      subscriber_id: sub,
      limit: 2
    })
    expect(first.status).toBe(200)
    expect(first.json).toMatchObject({ replayed: 2, skipped: 0 })
    expect(typeof first.json.next_cursor).toBe("string")
    const rest = await admin(relay, "POST", "/admin/deliveries/dead/replay", {
      since: before,
      subscriber_id: sub,
      limit: 2,
      cursor: first.json.next_cursor
    })
    expect(rest.json).toEqual({ replayed: 1, skipped: 0, next_cursor: null })
    for (const id of ids)
      await eventually(
        async () => ((await getDelivery(relay, id)).state === "delivered" ? true : undefined),
        10_000,
        "delivered"
      )
    const delivered = await allPages(relay, `/admin/deliveries?state=delivered&subscriber_id=${sub}`, 100)
    expect(delivered.seen.map((d) => d.id).sort()).toEqual([...ids].sort())
    await admin(relay, "POST", `/admin/subscribers/${sub}/disable`, { reason: "test done" })
    await receiver.close()
  })

  it("/metrics has received, verified, rejected by reason, dispatched, delivered, retried, dead-lettered and lag", async () => {
    // Some traffic of every kind (the tests above left dead letters and retried deliveries).
    const body = JSON.stringify(paidEvent(nextOrderNumber(), [{ id: 1, token: "t" }]))
    expect((await post(relay, body, signed(newSecret(), "metrics-bad-sig", body))).status).toBe(401)
    expect((await post(relay, "{nope", signed(relay.secrets[0] ?? "", "metrics-malformed", "{nope"))).status).toBe(400)
    const receiver = await startReceiver()
    const created = await admin(relay, "POST", "/admin/subscribers", {
      url: receiver.url,
      events: ["test.metrics"],
      secret: newSecret()
    })
    const { deliveries } = await appendOutbound(relay, "777", "test.metrics", {})
    await eventually(async () =>
      (await getDelivery(relay, deliveries[0]?.deliveryId ?? "")).state === "delivered" ? true : undefined
    )
    await admin(relay, "POST", `/admin/subscribers/${String(created.json.id)}/disable`, { reason: "test done" })
    await receiver.close()

    const res = await fetch(`${relay.url}/metrics`)
    expect(res.status).toBe(200)
    const text = await res.text()
    const value = (series: string) => {
      const line = text.split("\n").find((l) => l.startsWith(`${series} `))
      return line === undefined ? undefined : Number(line.slice(series.length + 1))
    }
    expect(value("relay_inbound_received_total")).toBeGreaterThan(0)
    expect(value("relay_inbound_verified_total")).toBeGreaterThan(0)
    expect(value('relay_inbound_rejected_total{reason="bad_signature"}')).toBeGreaterThan(0)
    expect(value('relay_inbound_rejected_total{reason="malformed"}')).toBeGreaterThan(0)
    expect(value('relay_dispatched_total{event_type="order.paid"}')).toBeGreaterThan(0)
    expect(value("relay_delivered_total")).toBeGreaterThan(0)
    expect(value("relay_delivery_retries_total")).toBeGreaterThan(0)
    expect(value('relay_dead_lettered_total{kind="inbox"}')).toBeGreaterThan(0)
    expect(value('relay_dead_lettered_total{kind="delivery"}')).toBeGreaterThan(0)
    expect(value("relay_inbox_lag_seconds_count")).toBeGreaterThan(0)
    expect(value("relay_delivery_lag_seconds_count")).toBeGreaterThan(0)
    expect(text).toContain('relay_inbox_lag_seconds_bucket{le="+Inf"}')
    expect(text).toMatch(/http_server_requests_total\{[^}]*route="\/webhooks\/commerce"[^}]*\} \d+/)
  })
})
