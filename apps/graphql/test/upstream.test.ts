/**
 * What one GraphQL request may spend of HL Connect, counted at the sandbox: identical calls made
 * once per request, list arguments in the cost, a hard cap of calls per request and a token
 * bucket per API key, each past its bound a typed error with no call made.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { purchaseInput, registerAtSandbox, resetStats, settle, storeOrder, upstreamRequests } from "./support/seed.js"
import { ApiKey, field, OtherApiKey, startServer, type TestServer } from "./support/server.js"

const aliases = Array.from({ length: 14 }, (_, i) => `a${i}: downloadUrl`).join(" ")
const codes = (body: { readonly errors?: ReadonlyArray<{ readonly extensions?: Record<string, unknown> }> }) =>
  (body.errors ?? []).map((e) => e.extensions?.code)

/** Every field an order line has: a selection heavy enough for the cost to matter. */
const everyLineField = `orderNumber orderLineId asset quantity unitPriceMinor totalPriceMinor currency customerName customerEmail
  state attentionReason attempts nextCheckAt lastError version createdAt updatedAt remoteStatus downloadUrl viewUrl
  drift { drifted needsAttention missingRemotely stateMismatch description } parts { asset orderLineId }`

describe("upstream budget: dedupe and cost", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer()
    await registerAtSandbox(server, 8001, [{ lineId: 1 }])
    await settle(server, 8001, 1, "COMPLETED")
    await storeOrder(server, "8001", [{ lineId: 1, state: "completed" }])
  })
  afterAll(async () => {
    await server?.close()
  })

  it("the same order ×100 with 14 downloadUrl aliases is one downloadUrl call, literal or variable", async () => {
    const numbers = Array.from({ length: 100 }, () => "8001")
    for (const [query, variables] of [
      [`query($n: [ID!]!) { ordersByNumber(orderNumbers: $n) { lines { ${aliases} } } }`, { n: numbers }],
      [`{ ordersByNumber(orderNumbers: ${JSON.stringify(numbers)}) { lines { ${aliases} } } }`, undefined]
    ] as const) {
      await resetStats(server)
      const { status, body } = await server.query(query, variables)
      expect(status).toBe(200)
      expect(body.errors).toBeUndefined()
      const urls = Array.from({ length: 100 }, (_, i) =>
        Array.from({ length: 14 }, (_, a) => field(body.data, "ordersByNumber", i, "lines", 0, `a${a}`))
      ).flat()
      expect(urls).toHaveLength(1400)
      expect(new Set(urls).size).toBe(1)
      expect(urls[0]).toEqual(expect.stringContaining("/nf/download/"))
      const requests = await upstreamRequests(server)
      expect([requests.downloadUrl, requests.purchaseInfo ?? 0]).toEqual([1, 0])
    }
    expect(server.logs.some((line) => line.includes("/nf/"))).toBe(false)
  })

  it("a list argument multiplies the cost of what is under it, written out or in a variable", async () => {
    const query = (list: string) =>
      `{ ordersByNumber(orderNumbers: ${list}) { orderNumber lines { ${everyLineField} } } }`
    const one = await server.query(query(`["8001"]`))
    expect(one.body.errors).toBeUndefined()
    const hundred = JSON.stringify(Array.from({ length: 100 }, () => "8001"))
    await resetStats(server)
    for (const [text, variables] of [
      [query(hundred), undefined],
      [`query($n: [ID!]!) ${query("$n")}`, { n: JSON.parse(hundred) }],
      [`query($n: [ID!]! = ${hundred}) ${query("$n")}`, undefined]
    ] as const) {
      const { status, body } = await server.query(text, variables)
      expect(status).toBe(400)
      expect(body.data).toBeUndefined()
      expect(codes(body)).toEqual(["QUERY_LIMIT_EXCEEDED"])
      expect(body.errors?.[0]?.message).toMatch(/^Query Cost limit of 5000 exceeded, found \d+(\.\d+)?\.$/)
    }
    expect(await upstreamRequests(server)).toEqual({})
  })
})

describe("upstream budget: a hard cap per request", () => {
  let server: TestServer
  const orders = ["8101", "8102", "8103", "8104", "8105"]
  beforeAll(async () => {
    server = await startServer({ settings: { upstream: { maxCallsPerRequest: 3, ratePerSecond: 1000, burst: 1000 } } })
    for (const n of orders) await storeOrder(server, n, [{ lineId: 1 }])
  })
  afterAll(async () => {
    await server?.close()
  })

  it("past the cap, the fields that would call HL Connect get UPSTREAM_BUDGET_EXCEEDED and no call is made", async () => {
    await resetStats(server)
    const { status, body } = await server.query(
      `{ ordersByNumber(orderNumbers: ${JSON.stringify(orders)}) { orderNumber remote { __typename } } }`
    )
    expect(status).toBe(200)
    const remotes = orders.map((_, i) => field(body.data, "ordersByNumber", i, "remote"))
    expect(remotes.filter((r) => r === null)).toHaveLength(2)
    expect(remotes.filter((r) => field(r, "__typename") === "OrderNotFound")).toHaveLength(3)
    expect(codes(body)).toEqual(["UPSTREAM_BUDGET_EXCEEDED", "UPSTREAM_BUDGET_EXCEEDED"])
    expect(body.errors?.[0]?.extensions?.limit).toBe(3)
    expect(body.errors?.[0]?.message).toContain("budget of 3 HL Connect calls")
    expect((await upstreamRequests(server)).purchaseInfo).toBe(3)
    // The local part of every order is there regardless.
    expect(orders.map((_, i) => field(body.data, "ordersByNumber", i, "orderNumber"))).toEqual(orders)
    // Not an unexpected error: nothing at Error level.
    expect(server.logs.filter((line) => JSON.parse(line).logLevel === "ERROR")).toEqual([])
  })

  it("readiness answers while a budget-busting query runs", async () => {
    const busting = server.query(
      `{ ordersByNumber(orderNumbers: ${JSON.stringify(orders)}) { remote { __typename } lines { downloadUrl viewUrl } } }`
    )
    const ready = fetch(`${server.url}/health/ready`)
    const [refused, readiness] = await Promise.all([busting, ready])
    expect(readiness.status).toBe(200)
    expect(codes(refused.body)).toContain("UPSTREAM_BUDGET_EXCEEDED")
  })
})

describe("upstream rate per API key", () => {
  let server: TestServer
  const orders = ["8201", "8202", "8203"]
  beforeAll(async () => {
    server = await startServer({ settings: { upstream: { maxCallsPerRequest: 200, ratePerSecond: 0.01, burst: 2 } } })
    for (const n of orders) await storeOrder(server, n, [{ lineId: 1 }])
  })
  afterAll(async () => {
    await server?.close()
  })

  const statuses = (key: string) =>
    server.query(
      `{ ordersByNumber(orderNumbers: ${JSON.stringify(orders)}) { orderNumber remote { __typename } } }`,
      undefined,
      { authorization: `Bearer ${key}` }
    )

  it("a key past its burst gets RATE_LIMITED with a retry hint, no call is made; another key has its own bucket", async () => {
    await resetStats(server)
    const first = await statuses(ApiKey)
    expect(codes(first.body)).toEqual(["RATE_LIMITED"])
    const limited = first.body.errors?.[0]
    expect(limited?.message).toMatch(/^Too many HL Connect calls for this API key: retry in \d+ s\.$/)
    expect(limited?.extensions?.retryAfterSeconds).toBeGreaterThanOrEqual(1)
    expect((await upstreamRequests(server)).purchaseInfo).toBe(2)

    const again = await statuses(ApiKey)
    expect(codes(again.body)).toEqual(["RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED"])
    expect((await upstreamRequests(server)).purchaseInfo).toBe(2)

    const other = await statuses(OtherApiKey)
    expect(codes(other.body)).toEqual(["RATE_LIMITED"])
    expect((await upstreamRequests(server)).purchaseInfo).toBe(4)
    // Buckets are keyed by a hash: no key in the log.
    expect(server.logs.some((line) => line.includes(ApiKey) || line.includes(OtherApiKey))).toBe(false)
  })
})

describe("upstream rate per API key: bad input spends nothing", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ settings: { upstream: { maxCallsPerRequest: 200, ratePerSecond: 0.01, burst: 1 } } })
  })
  afterAll(async () => {
    await server?.close()
  })

  const register = `mutation($input: RegisterPurchaseInput!) { registerPurchase(input: $input) { __typename ... on InvalidInput { field } } }`
  const cancel = `mutation($n: ID!, $l: ID!) { cancelOrderLine(orderNumber: $n, orderLineId: $l) { __typename ... on InvalidInput { field } } }`

  it("ill-formed mutations are InvalidInput however often they come, and the key's one token is still there after them", async () => {
    for (let i = 0; i < 3; i++) {
      const bad = await server.query(register, {
        input: purchaseInput({ token: "dGVzdF90b2tlbg==", orderNumber: "8301", customer: "Clara\u0000" })
      })
      expect(bad.body.errors, JSON.stringify(bad.body)).toBeUndefined()
      expect(field(bad.body.data, "registerPurchase")).toEqual({ __typename: "InvalidInput", field: "customer" })
      const badIds = await server.query(cancel, { n: "007", l: "1" })
      expect(badIds.body.errors, JSON.stringify(badIds.body)).toBeUndefined()
      expect(field(badIds.body.data, "cancelOrderLine", "__typename")).toBe("InvalidInput")
    }
    // The burst of 1 is unspent: a valid cancel is admitted (its line is unknown here and at HL Connect).
    const valid = await server.query(cancel, { n: "8399", l: "1" })
    expect(codes(valid.body)).not.toContain("RATE_LIMITED")
    const limited = await server.query(cancel, { n: "8398", l: "1" })
    expect(codes(limited.body)).toEqual(["RATE_LIMITED"])
  })
})
