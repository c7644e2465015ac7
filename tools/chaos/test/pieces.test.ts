/**
 * The campaign's own pieces: the secret scan finds what it should (a scan that finds nothing
 * must mean something), Prometheus parsing, the table, and the generated bad requests.
 */
import { Effect, Schema } from "effect"
import fc from "fast-check"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as BadRequests from "../src/BadRequests.js"
import * as Metrics from "../src/Metrics.js"
import * as Purchases from "../src/Purchases.js"
import * as Secrets from "../src/Secrets.js"
import * as Table from "../src/Table.js"

const dir = mkdtempSync(join(tmpdir(), "chaos-pieces-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("secret scan", () => {
  it("finds registered secrets, their base64 keys, tokens and credential-shaped text; passes clean logs", async () => {
    const secret = Secrets.newWebhookSecret()
    const token = Secrets.newToken("admin")
    const validation = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
    const leaky = join(dir, "leaky.log")
    const clean = join(dir, "clean.log")
    writeFileSync(
      leaky,
      [
        `{"message":"key ${secret.slice("whsec_".length)}"}`,
        `{"message":"admin ${token}"}`,
        `{"token":"${validation}"}`,
        "GET http://127.0.0.1:4010/nf/download/0123456789abcdef0123456789abcdef",
        "authorization: Bearer abcdefgh12345678",
        "postgres://user:hunter22@db/x"
      ].join("\n")
    )
    writeFileSync(clean, '{"message":"listening on http://127.0.0.1:4020"}\n{"message":"secret_hint whsec_…1234"}\n')
    const report = await Effect.runPromise(
      Effect.gen(function* () {
        const registry = yield* Secrets.make
        yield* registry.add("webhook secret", secret)
        yield* registry.add("admin token", token)
        yield* registry.addTokens("validation token", [validation])
        yield* registry.addLog(leaky)
        yield* registry.addLog(clean)
        return yield* registry.scan
      })
    )
    const found = new Set(report.hits.map((h) => `${h.file === leaky ? "leaky" : "clean"}: ${h.what}`))
    expect([...found].sort()).toEqual(
      [
        "leaky: webhook secret (base64 key)",
        "leaky: admin token",
        "leaky: validation token",
        "leaky: a download/view URL (/nf/…)",
        "leaky: a bearer token",
        "leaky: a password in a database URL"
      ].sort()
    )
  })
})

describe("metrics", () => {
  it("sums a counter over matching labels", () => {
    const samples = Metrics.parse(
      [
        "# HELP hlconnect_client_calls_total calls",
        'hlconnect_client_calls_total{endpoint="registerPurchase",outcome="success"} 7',
        'hlconnect_client_calls_total{endpoint="registerPurchase",outcome="conflict"} 2',
        'hlconnect_client_calls_total{endpoint="purchaseInfo",outcome="success"} 5',
        "relay_delivered_total 3"
      ].join("\n")
    )
    expect(Metrics.sum(samples, "hlconnect_client_calls_total", { endpoint: "registerPurchase" })).toBe(9)
    expect(Metrics.sum(samples, "relay_delivered_total")).toBe(3)
  })
})

describe("table", () => {
  it("renders one padded Markdown row per scenario", () => {
    const text = Table.render([
      {
        scenario: "faults",
        load: "10 orders",
        faults: "3 injected",
        lost: 0,
        duplicated: 0,
        result: "PASS",
        seconds: 12,
        notes: []
      },
      {
        scenario: "bad-input",
        load: "5 requests",
        faults: "a | b",
        lost: undefined,
        duplicated: undefined,
        result: "FAIL",
        seconds: 3,
        notes: ["x"]
      }
    ])
    const lines = text.split("\n")
    expect(lines).toHaveLength(4)
    expect(new Set(lines.map((l) => l.length)).size).toBe(1)
    expect(lines[3]).toContain("a \\| b")
    expect(lines[3]).toContain("—")
  })
})

const subscriberUrl = Schema.decodeUnknownSync(Schema.parseJson(Schema.Struct({ url: Schema.String })))

describe("bad requests", () => {
  const ctx: BadRequests.Context = {
    sign: Purchases.signer(Secrets.newWebhookSecret()),
    forge: Purchases.signer(Secrets.newWebhookSecret()),
    graphqlKey: "key",
    adminToken: "admin-token-for-the-pieces-test",
    toleranceSeconds: 300,
    relayLimit: 1024 * 1024,
    accepted: [{ id: "seed-1", body: '{"type":"order.paid","data":{"order_number":"1"}}', headers: {} }],
    storedOrders: ["1"]
  }

  it("are reproducible from a seed and expect only 4xx (or the documented 200 duplicate, or a GraphQL union member)", () => {
    const a = BadRequests.generate(ctx, 600, 42)
    const b = BadRequests.generate(ctx, 600, 42)
    expect(a.map((r) => r.category)).toEqual(b.map((r) => r.category))
    expect(a.length).toBe(600)
    for (const r of a) {
      // 200: a duplicate event, GraphQL requests whose execution started (GraphQL over HTTP), and mutations answered by a union member.
      for (const s of r.expect.status)
        expect(
          s === 200
            ? /duplicate|→ 200|amplification/.test(r.category) || r.expect.answer !== undefined
            : s >= 400 && s < 500
        ).toBe(true)
    }
    expect(new Set(a.map((r) => r.category)).size).toBeGreaterThan(15)
  })

  it("include refused subscriber URLs: NAT64, SIIT and Teredo forms, credentials, control characters", () => {
    const urls = BadRequests.generate(ctx, 3000, 7)
      .filter((r) => r.path === "/admin/subscribers")
      .map((r) => ({ category: r.category, code: r.expect.code, url: subscriberUrl(String(r.body)).url }))
    const with_ = (pattern: RegExp) => urls.filter((u) => pattern.test(u.url))
    expect(with_(/^https:\/\/\[64:ff9b:1::/).length).toBeGreaterThan(0)
    expect(with_(/^https:\/\/\[::ffff:0:/).length).toBeGreaterThan(0)
    expect(with_(/^https:\/\/\[2001:0:/).every((u) => u.category.includes("Teredo"))).toBe(true)
    expect(with_(/^https:\/\/\[2001:0:/).length).toBeGreaterThan(0)
    expect(urls.filter((u) => u.code === "credentials_in_url").every((u) => /^https:\/\/[^/]*@/.test(u.url))).toBe(true)
    expect(urls.filter((u) => u.code === "invalid_url").every((u) => /[\p{Cc}\s\u200b]/u.test(u.url))).toBe(true)
    expect(new Set(urls.map((u) => u.category)).size).toBe(4)
  })

  it("include ill-formed text for the relay and GraphQL, and a known purchase spelled NFD", () => {
    const seed = JSON.stringify({
      type: "order.paid",
      data: {
        order_number: "7",
        customer: { name: "Chaos Zo\u00eb 1", email: "chaos1@example.com" },
        currency: "USD",
        lines: [
          {
            order_line_id: 1,
            asset_id: 4000,
            quantity: 1,
            unit_price: "3.99",
            line_price: "3.99",
            validation_token: "tok"
          }
        ]
      }
    })
    const requests = BadRequests.generate({ ...ctx, accepted: [{ id: "seed-2", body: seed, headers: {} }] }, 2000, 7)
    const of = (category: string) => requests.filter((r) => r.category.startsWith(category))
    const relay = of("relay: ill-formed text")
    expect(relay.length).toBeGreaterThan(0)
    for (const r of relay) {
      const body = String(r.body)
      // Each carries a lone surrogate (escaped by JSON.stringify), a control character or a line break.
      expect(/\\ud[89a-f][0-9a-f]{2}|\\u00[01][0-9a-f]|\\[nt]|[\u007f-\u009f\u2028\u2029]/.test(body), body).toBe(true)
    }
    expect(of("graphql: registerPurchase with ill-formed text").length).toBeGreaterThan(0)
    const nfd = of("graphql: a known purchase, customer spelled NFD")
    expect(nfd.length).toBeGreaterThan(0)
    expect(String(nfd[0]?.body)).toContain(JSON.stringify("Chaos Zoe\u0308 1").slice(1, -1))
  })

  it("a wrong-type variable value stays wrong on the wire: never an integer or null once in JSON (±Infinity would be)", () => {
    const values = fc.sample(BadRequests.wrongVariableValues, { numRuns: 50_000, seed: 499780487 })
    const onTheWire = values.filter((v) => v !== null).map((v) => JSON.parse(JSON.stringify(v)))
    expect(onTheWire.filter((v) => v === null || Number.isInteger(v))).toEqual([])
  })

  it("out-of-range arguments and the amplification query expect what the facade answers", () => {
    const sample = fc.sample(BadRequests.graphqlRequests(ctx), { numRuns: 3000, seed: 99 })
    const outOfRange = sample.filter((r) => r.category.startsWith("graphql: out-of-range"))
    const amplifying = sample.filter((r) => r.category === BadRequests.amplificationCategory)
    expect(outOfRange.length).toBeGreaterThan(0)
    expect(amplifying.length).toBeGreaterThan(0)
    for (const r of outOfRange) expect(r.expect.status).toEqual([200])
    for (const r of amplifying)
      expect([r.expect.status, r.expect.mayAnswer, String(r.body).split("downloadUrl").length - 1]).toEqual([
        [200],
        true,
        14
      ])
  })
})
