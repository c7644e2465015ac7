/**
 * Outbound secret rotation (Standard Webhooks: sign with old + new during the overlap; the
 * receiver accepts any match), checked with the `standardwebhooks` library as the receiver.
 */
import { Webhook } from "standardwebhooks"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  admin,
  appendOutbound,
  asRecord,
  enginesUnderTest,
  eventually,
  getDelivery,
  headersOf,
  newSecret,
  type Received,
  type RunningRelay,
  startReceiver,
  startRelay
} from "./support.js"

const engines = enginesUnderTest("relay_rotation")

const verifies = (secret: string, r: Received | undefined) => {
  if (r === undefined) return false
  try {
    new Webhook(secret).verify(r.body, headersOf(r))
    return true
  } catch {
    return false
  }
}

const secretsOf = (json: Record<string, unknown>) => (Array.isArray(json.secrets) ? json.secrets.map(asRecord) : [])

describe.each(engines)("secret rotation on $name", (engine) => {
  let relay: RunningRelay
  const logs: Array<string> = []
  beforeAll(async () => {
    relay = await startRelay({}, { logs, ...(engine.store === undefined ? {} : { store: engine.store() }) })
  })
  afterAll(async () => {
    await relay?.close()
  })

  const deliverOne = async (receiver: Awaited<ReturnType<typeof startReceiver>>, eventType: string) => {
    const before = receiver.received.length
    const { deliveries } = await appendOutbound(relay, "8100", eventType, { n: before })
    const id = deliveries[0]?.deliveryId ?? ""
    await eventually(
      async () => ((await getDelivery(relay, id)).state === "delivered" ? true : undefined),
      10_000,
      "delivery"
    )
    return receiver.received[before]
  }

  it("during the overlap every delivery verifies with the old and the new secret; after it, only with the new", async () => {
    const receiver = await startReceiver()
    const old = newSecret()
    const created = await admin(relay, "POST", "/admin/subscribers", {
      url: receiver.url,
      events: ["test.rotate"],
      secret: old
    })
    expect(created.status).toBe(201)
    const id = String(created.json.id)
    expect(verifies(old, await deliverOne(receiver, "test.rotate"))).toBe(true)

    // Generated secret, a 2-second overlap (the default is RELAY_SECRET_ROTATION_OVERLAP, 24 h).
    const rotated = await admin(relay, "POST", `/admin/subscribers/${id}/rotate-secret`, { overlap_seconds: 2 })
    expect(rotated.status).toBe(200)
    const fresh = String(rotated.json.secret)
    expect(fresh).toMatch(/^whsec_/)
    expect(fresh).not.toBe(old)
    const active = secretsOf(rotated.json)
    expect(active.map((s) => s.hint)).toEqual([`whsec_…${fresh.slice(-4)}`, `whsec_…${old.slice(-4)}`])
    expect(active[0]?.expires_at).toBeNull()
    expect(typeof active[1]?.expires_at).toBe("string")

    const during = await deliverOne(receiver, "test.rotate")
    expect(String(during?.headers["webhook-signature"]).split(" ")).toHaveLength(2)
    expect(verifies(old, during)).toBe(true)
    expect(verifies(fresh, during)).toBe(true)
    expect(verifies(newSecret(), during)).toBe(false)

    // Once the overlap is over the old secret is no longer active (the admin API shows one).
    await eventually(
      async () => {
        const s = await admin(relay, "GET", `/admin/subscribers/${id}`)
        return secretsOf(s.json).length === 1 ? true : undefined
      },
      10_000,
      "the overlap to end"
    )
    const after = await deliverOne(receiver, "test.rotate")
    expect(String(after?.headers["webhook-signature"]).split(" ")).toHaveLength(1)
    expect(verifies(fresh, after)).toBe(true)
    expect(verifies(old, after)).toBe(false)

    // Never returned in full after creation, never logged.
    const listed = await admin(relay, "GET", "/admin/subscribers")
    const shown = JSON.stringify(listed.json) + JSON.stringify(await admin(relay, "GET", `/admin/subscribers/${id}`))
    expect(shown).not.toContain(old)
    expect(shown).not.toContain(fresh)
    expect(logs.some((l) => l.includes("subscriber secret rotated"))).toBe(true)
    for (const secret of [old, fresh]) {
      expect(logs.join("\n")).not.toContain(secret)
      expect(logs.join("\n")).not.toContain(secret.slice("whsec_".length))
    }
    await admin(relay, "POST", `/admin/subscribers/${id}/disable`, { reason: "test done" })
    await receiver.close()
  })

  it("a supplied secret with no overlap replaces the old one at once; bad input is refused and changes nothing", async () => {
    const receiver = await startReceiver()
    const old = newSecret()
    const created = await admin(relay, "POST", "/admin/subscribers", {
      url: receiver.url,
      events: ["test.revoke"],
      secret: old
    })
    const id = String(created.json.id)
    const supplied = newSecret()
    const rotated = await admin(relay, "POST", `/admin/subscribers/${id}/rotate-secret`, {
      secret: supplied,
      overlap_seconds: 0
    })
    expect(rotated.status).toBe(200)
    expect(rotated.json.secret).toBe(supplied)
    expect(secretsOf(rotated.json)).toHaveLength(1)
    const received = await deliverOne(receiver, "test.revoke")
    expect(verifies(supplied, received)).toBe(true)
    expect(verifies(old, received)).toBe(false)

    const bad = await admin(relay, "POST", `/admin/subscribers/${id}/rotate-secret`, { secret: "whsec_!!!" })
    expect(bad.status).toBe(422)
    expect(bad.json.error).toBe("invalid_secret")
    const negative = await admin(relay, "POST", `/admin/subscribers/${id}/rotate-secret`, { overlap_seconds: -5 })
    expect(negative.status).toBe(400)
    const malformed = await fetch(`${relay.url}/admin/subscribers/${id}/rotate-secret`, {
      method: "POST",
      headers: { authorization: "Bearer admin-token-0123456789abcdef", "content-type": "application/json" },
      body: "{not json"
    })
    expect(malformed.status).toBe(400)
    expect((await admin(relay, "POST", "/admin/subscribers/no-such-subscriber/rotate-secret", {})).status).toBe(404)
    const unchanged = await admin(relay, "GET", `/admin/subscribers/${id}`)
    expect(secretsOf(unchanged.json).map((s) => s.hint)).toEqual([`whsec_…${supplied.slice(-4)}`])
    await admin(relay, "POST", `/admin/subscribers/${id}/disable`, { reason: "test done" })
    await receiver.close()
  })
})
