/**
 * The campaign's own pieces: the secret scan finds what it should (a scan that finds nothing
 * must mean something), Prometheus parsing, the table, and the generated bad requests.
 */
import { Effect } from "effect"
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
      { scenario: "faults", load: "10 orders", faults: "3 injected", lost: 0, duplicated: 0, result: "PASS", seconds: 12, notes: [] },
      { scenario: "bad-input", load: "5 requests", faults: "a | b", lost: undefined, duplicated: undefined, result: "FAIL", seconds: 3, notes: ["x"] }
    ])
    const lines = text.split("\n")
    expect(lines).toHaveLength(4)
    expect(new Set(lines.map((l) => l.length)).size).toBe(1)
    expect(lines[3]).toContain("a \\| b")
    expect(lines[3]).toContain("—")
  })
})

describe("bad requests", () => {
  const ctx: BadRequests.Context = {
    sign: Purchases.signer(Secrets.newWebhookSecret()),
    forge: Purchases.signer(Secrets.newWebhookSecret()),
    graphqlKey: "key",
    toleranceSeconds: 300,
    relayLimit: 1024 * 1024,
    accepted: [{ id: "seed-1", body: '{"type":"order.paid","data":{"order_number":"1"}}', headers: {} }],
    storedOrders: ["1"]
  }

  it("are reproducible from a seed and expect only 4xx (or the documented 200 duplicate)", () => {
    const a = BadRequests.generate(ctx, 600, 42)
    const b = BadRequests.generate(ctx, 600, 42)
    expect(a.map((r) => r.category)).toEqual(b.map((r) => r.category))
    expect(a.length).toBe(600)
    for (const r of a) {
      // 200: a duplicate event, and GraphQL requests whose execution started (GraphQL over HTTP).
      for (const s of r.expect.status) expect(s === 200 ? /duplicate|→ 200|amplification/.test(r.category) : s >= 400 && s < 500).toBe(true)
    }
    expect(new Set(a.map((r) => r.category)).size).toBeGreaterThan(15)
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
    for (const r of amplifying) expect([r.expect.status, r.expect.mayAnswer, String(r.body).split("downloadUrl").length - 1]).toEqual([[200], true, 14])
  })
})
