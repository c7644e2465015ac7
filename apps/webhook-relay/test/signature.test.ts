import { Duration, Either, Redacted } from "effect"
import fc from "fast-check"
import { randomBytes } from "node:crypto"
import { Webhook } from "standardwebhooks"
import { describe, expect, it } from "vitest"
import { parse } from "../src/CommerceEvents.js"
import { decodeSecret, signedHeaders, verify } from "../src/Signature.js"
import { svixSchedule } from "../src/RelayConfig.js"

const secret = () => `whsec_${randomBytes(24).toString("base64")}`
const secretsKey = () => `rsk_${randomBytes(32).toString("base64")}`
const key = (s: string) => Either.getOrThrow(decodeSecret(Redacted.make(s)))
const opts = (keys: ReadonlyArray<string>, nowMillis = Date.now()) => ({
  keys: keys.map(key),
  toleranceSeconds: 300,
  nowMillis
})

const peerSign = (s: string, id: string, body: string, date = new Date()) => ({
  id,
  timestamp: String(Math.floor(date.getTime() / 1000)),
  signature: new Webhook(s).sign(id, date, body)
})

describe("Signature", () => {
  it("verifies what standardwebhooks signs", () => {
    const s = secret()
    const body = '{"type":"order.paid"}'
    expect(Either.isRight(verify(peerSign(s, "msg_1", body), Buffer.from(body), opts([s])))).toBe(true)
  })

  it("signs what standardwebhooks verifies, with every key (rotation)", () => {
    const [a, b] = [secret(), secret()]
    const body = '{"x":1}'
    const headers = signedHeaders([key(a), key(b)], "evt_1", Math.floor(Date.now() / 1000), body)
    expect(new Webhook(a).verify(body, headers)).toEqual({ x: 1 })
    expect(new Webhook(b).verify(body, headers)).toEqual({ x: 1 })
  })

  it("accepts any of several active secrets", () => {
    const [old, current] = [secret(), secret()]
    const body = "{}"
    expect(Either.isRight(verify(peerSign(old, "m", body), Buffer.from(body), opts([current, old])))).toBe(true)
    expect(Either.isRight(verify(peerSign(current, "m", body), Buffer.from(body), opts([current, old])))).toBe(true)
    expect(Either.isLeft(verify(peerSign(secret(), "m", body), Buffer.from(body), opts([current, old])))).toBe(true)
  })

  it("rejects stale and future timestamps, and tampered bodies", () => {
    const s = secret()
    const body = "{}"
    const old = verify(peerSign(s, "m", body, new Date(Date.now() - 301_000)), Buffer.from(body), opts([s]))
    const future = verify(peerSign(s, "m", body, new Date(Date.now() + 301_000)), Buffer.from(body), opts([s]))
    expect(Either.isLeft(old) && old.left._tag === "StaleTimestamp" && old.left.direction === "past").toBe(true)
    expect(Either.isLeft(future) && future.left._tag === "StaleTimestamp" && future.left.direction === "future").toBe(
      true
    )
    const tampered = verify(peerSign(s, "m", body), Buffer.from("{} "), opts([s]))
    expect(Either.isLeft(tampered) && tampered.left._tag === "InvalidSignature").toBe(true)
  })

  it("rejects bad secrets", () => {
    expect(Either.isLeft(decodeSecret(Redacted.make("whsec_!!!")))).toBe(true)
    expect(Either.isLeft(decodeSecret(Redacted.make("whsec_c2hvcnQ=")))).toBe(true)
  })

  it("property: random headers and bodies never verify; a signed one always does", () => {
    const s = secret()
    fc.assert(
      fc.property(
        fc.string(),
        fc.option(fc.string()),
        fc.option(fc.oneof(fc.string(), fc.integer().map(String))),
        fc.option(
          fc.oneof(
            fc.string(),
            fc.base64String().map((b) => `v1,${b}`)
          )
        ),
        (body, id, timestamp, signature) => {
          const r = verify(
            { id: id ?? undefined, timestamp: timestamp ?? undefined, signature: signature ?? undefined },
            Buffer.from(body),
            opts([s])
          )
          expect(Either.isLeft(r)).toBe(true)
          const good = verify(peerSign(s, id ?? "m", body), Buffer.from(body), opts([s]))
          expect(Either.isRight(good) || (id ?? "m") === "").toBe(true)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("the default schedule is Svix's", () => {
    expect(svixSchedule.map(Duration.toSeconds)).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000])
  })
})

describe("CommerceEvents", () => {
  const line = {
    order_line_id: 1,
    asset_id: "4000",
    quantity: 2,
    unit_price: "1.10",
    line_price: 2.2,
    validation_token: "t"
  }
  const paid = (over: Record<string, unknown> = {}) =>
    JSON.stringify({
      type: "order.paid",
      data: { order_number: 12, customer: { name: "A", email: "a@b.c" }, lines: [line], ...over }
    })

  it("decodes order.paid: ids to strings, prices to minor units", () => {
    const r = parse(paid())
    if (Either.isLeft(r) || r.right.type !== "order.paid") throw new Error("expected order.paid")
    expect(r.right.data.order_number).toBe("12")
    expect(r.right.data.lines[0]).toMatchObject({
      order_line_id: "1",
      asset_id: "4000",
      unit_price: 110,
      line_price: 220
    })
  })

  it("says what is wrong", () => {
    const bad = (body: string) => Either.getOrThrowWith(Either.flip(parse(body)), () => new Error("expected failure"))
    expect(bad("{nope").status).toBe(400)
    expect(bad('{"type":"order.shipped","data":{}}').message).toContain("unknown event type")
    expect(bad(paid({ customer: { name: "A" } })).message).toContain("customer.email")
    expect(bad(paid({ lines: [{ ...line, unit_price: 1.999 }] })).message).toContain("unit_price")
    expect(bad(paid({ lines: [{ ...line, line_price: 3 }] })).message).toContain("line_price")
    expect(bad(paid({ order_number: "A-1" })).message).toContain("order_number")
    expect(bad(paid({ lines: [line, line] })).message).toContain("distinct")
  })

  it("refunds: line ids optional; line_cancelled: required", () => {
    expect(Either.isRight(parse('{"type":"order.refunded","data":{"order_number":"7"}}'))).toBe(true)
    expect(Either.isLeft(parse('{"type":"order.line_cancelled","data":{"order_number":"7"}}'))).toBe(true)
  })
})

describe("RelayConfig", () => {
  it("names every offending variable and never echoes secrets", async () => {
    const { ConfigProvider, Effect, Exit } = await import("effect")
    const { load } = await import("../src/RelayConfig.js")
    const provider = ConfigProvider.fromMap(
      new Map([
        ["RELAY_WEBHOOK_SECRETS", "whsec_c2hvcnQ=,not-base64!"],
        ["RELAY_SECRETS_KEY", `${secretsKey()},rsk_c2hvcnRrZXlzZWNyZXQ=`],
        ["RELAY_ADMIN_TOKEN", "short"],
        ["RELAY_RETRY_SCHEDULE", "5 seconds,bogus"],
        ["RELAY_SUBSCRIBERS", '[{"url":"http://x","secret":"whsec_topsecretvalue"'],
        ["RELAY_MAX_BODY_BYTES", "99999999"],
        ["RELAY_ALLOW_PRIVATE_SUBSCRIBERS", "maybe"],
        ["RELAY_SECRET_ROTATION_OVERLAP", "40 days"],
        ["RELAY_SUBSCRIBER_DISABLE_AFTER", "0 seconds"],
        ["RELAY_SUBSCRIBER_CHECK_INTERVAL", "soon"],
        ["RELAY_RETENTION", "12 hours"],
        ["RELAY_RETENTION_INTERVAL", "2 days"]
      ])
    )
    const exit = await Effect.runPromiseExit(Effect.withConfigProvider(load, provider))
    expect(Exit.isFailure(exit)).toBe(true)
    const text = Exit.isFailure(exit)
      ? String(exit.cause._tag === "Fail" ? exit.cause.error.message : JSON.stringify(exit))
      : ""
    for (const name of [
      "RELAY_WEBHOOK_SECRETS",
      "RELAY_SECRETS_KEY",
      "RELAY_ADMIN_TOKEN",
      "RELAY_RETRY_SCHEDULE",
      "RELAY_SUBSCRIBERS",
      "RELAY_MAX_BODY_BYTES",
      "RELAY_ALLOW_PRIVATE_SUBSCRIBERS",
      "RELAY_SECRET_ROTATION_OVERLAP",
      "RELAY_SUBSCRIBER_DISABLE_AFTER",
      "RELAY_SUBSCRIBER_CHECK_INTERVAL",
      "RELAY_RETENTION",
      "RELAY_RETENTION_INTERVAL"
    ]) {
      expect(text).toContain(name)
    }
    expect(text).not.toContain("topsecretvalue")
    expect(text).not.toContain("not-base64")
    expect(text).toContain("key #2 must be 32 bytes")
    expect(text).not.toContain("c2hvcnRrZXlzZWNyZXQ")
  })

  it("RELAY_SECRETS_KEY is required: without it the relay does not start, and the message names it", async () => {
    const { ConfigProvider, Effect, Exit } = await import("effect")
    const { load } = await import("../src/RelayConfig.js")
    const exit = await Effect.runPromiseExit(
      Effect.withConfigProvider(load, ConfigProvider.fromMap(new Map([["RELAY_WEBHOOK_SECRETS", secret()]])))
    )
    const text = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error.message : "started"
    expect(text).toContain("RELAY_SECRETS_KEY")
  })

  it("RELAY_SECRETS_KEY: a comma-separated list, the first key current (it seals), all of them open", async () => {
    const { ConfigProvider, Effect } = await import("effect")
    const { load } = await import("../src/RelayConfig.js")
    const keys = [secretsKey(), secretsKey()]
    const provider = ConfigProvider.fromMap(
      new Map([
        ["RELAY_WEBHOOK_SECRETS", secret()],
        ["RELAY_SECRETS_KEY", keys.join(",")]
      ])
    )
    const c = await Effect.runPromise(Effect.withConfigProvider(load, provider))
    expect(c.secretKeys.length).toBe(2)
    expect(c.secretKeys[0].id).not.toBe(c.secretKeys[1]?.id)
    expect(String(c.secretKeys[0].key)).not.toContain(keys[0]?.slice(4, 20))
  })

  it("defaults", async () => {
    const { ConfigProvider, Duration, Effect, Option } = await import("effect")
    const { load } = await import("../src/RelayConfig.js")
    const provider = ConfigProvider.fromMap(
      new Map([
        ["RELAY_WEBHOOK_SECRETS", secret()],
        ["RELAY_SECRETS_KEY", secretsKey()]
      ])
    )
    const c = await Effect.runPromise(Effect.withConfigProvider(load, provider))
    expect(Duration.toMinutes(c.timestampTolerance)).toBe(5)
    expect(c.maxBodyBytes).toBe(1024 * 1024)
    expect(Duration.toSeconds(c.deliveryTimeout)).toBe(15)
    expect(c.currency).toBe("USD")
    expect(Option.isNone(c.adminToken)).toBe(true)
    expect(c.allowPrivateSubscribers).toBe(false)
    expect(Duration.toHours(c.secretRotationOverlap)).toBe(24)
    expect(Duration.toHours(c.subscriberDisableAfter)).toBe(5 * 24)
    expect(Duration.toMinutes(c.subscriberCheckInterval)).toBe(1)
    expect(Duration.toDays(c.retention)).toBe(90)
    expect(Duration.toHours(c.retentionInterval)).toBe(1)
  })

  it("RELAY_RETENTION: 3 to 3650 days (shorter would forget event ids senders still retry); RELAY_RETENTION_INTERVAL: 1 second to 1 day", async () => {
    const { ConfigProvider, Duration, Effect, Exit } = await import("effect")
    const { load } = await import("../src/RelayConfig.js")
    const loaded = (name: string, value: string) =>
      Effect.runPromiseExit(
        Effect.withConfigProvider(
          load,
          ConfigProvider.fromMap(
            new Map([
              ["RELAY_WEBHOOK_SECRETS", secret()],
              ["RELAY_SECRETS_KEY", secretsKey()],
              [name, value]
            ])
          )
        )
      )
    const refusal = async (name: string, value: string) => {
      const exit = await loaded(name, value)
      return Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error.message : "accepted"
    }
    for (const { name, value } of [
      { name: "RELAY_RETENTION", value: "71 hours" },
      { name: "RELAY_RETENTION", value: "3651 days" },
      { name: "RELAY_RETENTION_INTERVAL", value: "999 millis" },
      { name: "RELAY_RETENTION_INTERVAL", value: "25 hours" }
    ]) {
      expect(await refusal(name, value), `${name}=${value}`).toContain(name)
    }
    const shortest = await loaded("RELAY_RETENTION", "3 days")
    expect(Exit.isSuccess(shortest) && Duration.toDays(shortest.value.retention)).toBe(3)
    const longest = await loaded("RELAY_RETENTION", "3650 days")
    expect(Exit.isSuccess(longest) && Duration.toDays(longest.value.retention)).toBe(3650)
    const interval = await loaded("RELAY_RETENTION_INTERVAL", "1 second")
    expect(Exit.isSuccess(interval) && Duration.toSeconds(interval.value.retentionInterval)).toBe(1)
  })

  it("RELAY_ALLOW_PRIVATE_SUBSCRIBERS=true is read as on", async () => {
    const { ConfigProvider, Effect } = await import("effect")
    const { load } = await import("../src/RelayConfig.js")
    const provider = ConfigProvider.fromMap(
      new Map([
        ["RELAY_WEBHOOK_SECRETS", secret()],
        ["RELAY_SECRETS_KEY", secretsKey()],
        ["RELAY_ALLOW_PRIVATE_SUBSCRIBERS", "true"]
      ])
    )
    expect((await Effect.runPromise(Effect.withConfigProvider(load, provider))).allowPrivateSubscribers).toBe(true)
  })
})
