/**
 * Every query field and union member, over real HTTP, against the sandbox and a SQLite store.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { registerAtSandbox, type SeedLine, settle, storeOrder } from "./support/seed.js"
import { ApiKey, field, type GraphqlBody, startServer, type TestServer } from "./support/server.js"

const lineFields = `
  orderNumber orderLineId asset quantity unitPriceMinor totalPriceMinor currency customerName customerEmail
  state attentionReason attempts nextCheckAt lastError parts { asset orderLineId } version createdAt updatedAt
  remoteStatus drift { drifted needsAttention missingRemotely stateMismatch description }
`

const statusFields = `
  __typename
  ... on PurchaseCompleted { items { orderNumber orderLineId assetId customer unitPrice lineItemPrice quantity countryCode status downloadUrl viewUrl } }
  ... on PurchaseProcessing { status }
  ... on PurchaseFailed { status message }
  ... on OrderNotFound { message }
`

describe("queries", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer()
    // 1001: complete at HL Connect; locally one line completed, one still "processing" (drift).
    await registerAtSandbox(server, 1001, [{ lineId: 1 }, { lineId: 2 }])
    await settle(server, 1001, 1, "COMPLETED")
    await settle(server, 1001, 2, "COMPLETED")
    await storeOrder(server, "1001", [
      { lineId: 1, state: "completed" },
      { lineId: 2, state: "processing" }
    ])
    // 1002: processing at HL Connect and locally.
    await registerAtSandbox(server, 1002, [{ lineId: 1 }])
    await storeOrder(server, "1002", [{ lineId: 1, state: "processing" }])
    // 1003: failed at HL Connect (502) and locally.
    await registerAtSandbox(server, 1003, [{ lineId: 1, assetId: 4999 }])
    await settle(server, 1003, 1, "FAILED")
    await storeOrder(server, "1003", [{ lineId: 1, state: "failed" }])
    // 1004: registered locally, unknown at HL Connect.
    await storeOrder(server, "1004", [{ lineId: 1, state: "registered" }])
    // 1006: String Quartet No. 1 with two parts, all fulfilled; 1007: the same, its cello part failed.
    for (const [orderNumber, cello] of [
      [1006, "COMPLETED"],
      [1007, "FAILED"]
    ] as const) {
      const quartet: SeedLine = {
        lineId: 1,
        assetId: 4003,
        parts: [
          { asset: "4004", orderLineId: "2" },
          { asset: "4007", orderLineId: "3" }
        ]
      }
      await registerAtSandbox(server, orderNumber, [quartet])
      await settle(server, orderNumber, 1, "COMPLETED")
      await settle(server, orderNumber, 2, "COMPLETED")
      await settle(server, orderNumber, 3, cello)
      await storeOrder(server, String(orderNumber), [{ ...quartet, state: "completed" }])
    }
    // 1005: parked for an operator; web-77: not an HL Connect order number at all.
    await storeOrder(server, "1005", [{ lineId: 1, state: "needs_attention" }])
    await storeOrder(server, "web-77", [
      {
        lineId: 1,
        parts: [
          { asset: "4004", orderLineId: "2" },
          { asset: "4005", orderLineId: "3" }
        ]
      }
    ])
  })
  afterAll(async () => {
    await server?.close()
  })

  it("order: local lines, live remote outcome, drift, fresh URLs", async () => {
    const { status, body } = await server.query(`{
      order(orderNumber: "1001") {
        orderNumber nextCheckAt drifted
        lines { ${lineFields} downloadUrl viewUrl }
        remote { ${statusFields} }
      }
    }`)
    expect(status).toBe(200)
    expect(body.errors).toBeUndefined()
    const order = field(body.data, "order")
    expect(field(order, "orderNumber")).toBe("1001")
    expect(field(order, "drifted")).toBe(true)
    expect(field(order, "remote", "__typename")).toBe("PurchaseCompleted")
    expect(field(order, "remote", "items", 0, "status")).toBe("COMPLETED")
    expect(field(order, "remote", "items", 0, "countryCode")).toBe("US")
    expect(field(order, "remote", "items", 0, "customer")).toBe("Clara Schumann")
    expect(field(order, "remote", "items", 0, "downloadUrl")).toMatch(/^http/)
    const [first, second] = [field(order, "lines", 0), field(order, "lines", 1)]
    expect(field(first, "state")).toBe("completed")
    expect(field(first, "currency")).toBe("EUR")
    expect(field(first, "totalPriceMinor")).toBe(399)
    expect(field(first, "customerName")).toBe("Clara Schumann")
    expect(field(first, "createdAt")).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect(field(first, "remoteStatus")).toBe("COMPLETED")
    expect(field(first, "drift", "drifted")).toBe(false)
    expect(field(first, "downloadUrl")).toMatch(/\/nf\/download\//)
    expect(field(first, "viewUrl")).toMatch(/\/nf\/view\//)
    expect(field(first, "parts")).toBeNull()
    expect(field(second, "state")).toBe("processing")
    expect(field(second, "drift")).toEqual({
      drifted: true,
      needsAttention: false,
      missingRemotely: false,
      stateMismatch: true,
      description: "locally processing, but HL Connect reports COMPLETED"
    })
  })

  it("order: a line with ensemble parts — one status for all its HL Connect lines, each part's status and fresh URLs", async () => {
    const partFields = "asset orderLineId remoteStatus downloadUrl viewUrl"
    const { body } = await server.query(`{
      fulfilled: order(orderNumber: "1006") { lines { remoteStatus drift { drifted } parts { ${partFields} } } }
      celloFailed: order(orderNumber: "1007") { lines { remoteStatus drift { drifted description } parts { ${partFields} } } }
    }`)
    expect(body.errors).toBeUndefined()
    const fulfilled = field(body.data, "fulfilled", "lines", 0)
    expect(field(fulfilled, "remoteStatus")).toBe("COMPLETED")
    expect(field(fulfilled, "drift", "drifted")).toBe(false)
    const parts = field(fulfilled, "parts")
    expect(
      Array.isArray(parts)
        ? parts.map((p) => [field(p, "asset"), field(p, "orderLineId"), field(p, "remoteStatus")])
        : parts
    ).toEqual([
      ["4004", "2", "COMPLETED"],
      ["4007", "3", "COMPLETED"]
    ])
    expect(field(fulfilled, "parts", 0, "downloadUrl")).toMatch(/\/nf\/download\//)
    expect(field(fulfilled, "parts", 1, "viewUrl")).toMatch(/\/nf\/view\//)
    expect(field(fulfilled, "parts", 0, "downloadUrl")).not.toBe(field(fulfilled, "parts", 1, "downloadUrl"))

    const celloFailed = field(body.data, "celloFailed", "lines", 0)
    expect(field(celloFailed, "remoteStatus")).toBe("COMPLETED+FAILED")
    expect(field(celloFailed, "drift")).toEqual({
      drifted: true,
      description: "locally completed, but HL Connect reports COMPLETED+FAILED"
    })
    expect(field(celloFailed, "parts", 1, "remoteStatus")).toBe("FAILED")
    expect(field(celloFailed, "parts", 1, "downloadUrl")).toBeNull()
    expect(field(celloFailed, "parts", 0, "downloadUrl")).toMatch(/\/nf\/download\//)
  })

  it("order: processing, failed, unknown remotely, needs attention, not an HL Connect number, unknown locally", async () => {
    const { body } = await server.query(`{
      processing: order(orderNumber: "1002") { remote { ${statusFields} } lines { remoteStatus downloadUrl drift { drifted } } }
      failed: order(orderNumber: "1003") { remote { ${statusFields} } lines { remoteStatus drift { drifted } } }
      unknown: order(orderNumber: "1004") { drifted remote { ${statusFields} } lines { remoteStatus drift { missingRemotely description } } }
      parked: order(orderNumber: "1005") { lines { attentionReason drift { needsAttention drifted } } }
      web: order(orderNumber: "web-77") { remote { __typename } lines { state remoteStatus downloadUrl drift { drifted } parts { asset orderLineId } } }
      missing: order(orderNumber: "424242") { orderNumber }
    }`)
    expect(body.errors).toBeUndefined()
    const data = body.data
    expect(field(data, "processing", "remote")).toEqual({ __typename: "PurchaseProcessing", status: "PROCESSING" })
    expect(field(data, "processing", "lines", 0)).toEqual({
      remoteStatus: "PROCESSING",
      downloadUrl: null,
      drift: { drifted: false }
    })
    expect(field(data, "failed", "remote", "__typename")).toBe("PurchaseFailed")
    expect(field(data, "failed", "remote", "message")).toContain("failed")
    expect(field(data, "failed", "lines", 0)).toEqual({ remoteStatus: "FAILED", drift: { drifted: false } })
    expect(field(data, "unknown", "remote", "__typename")).toBe("OrderNotFound")
    expect(field(data, "unknown", "drifted")).toBe(true)
    expect(field(data, "unknown", "lines", 0, "drift", "missingRemotely")).toBe(true)
    expect(field(data, "parked", "lines", 0)).toEqual({
      attentionReason: "remote refund after completion",
      drift: { needsAttention: true, drifted: true }
    })
    expect(field(data, "web")).toEqual({
      remote: null,
      lines: [
        {
          state: "paid",
          remoteStatus: null,
          downloadUrl: null,
          drift: { drifted: false },
          parts: [
            { asset: "4004", orderLineId: "2" },
            { asset: "4005", orderLineId: "3" }
          ]
        }
      ]
    })
    expect(field(data, "missing")).toBeNull()
  })

  it("purchaseStatus: 200, 202, 502 and 404 as union members", async () => {
    const { body } = await server.query(`{
      completed: purchaseStatus(orderNumber: "1001") { ${statusFields} }
      processing: purchaseStatus(orderNumber: 1002) { ${statusFields} }
      failed: purchaseStatus(orderNumber: "1003") { ${statusFields} }
      notFound: purchaseStatus(orderNumber: "999999") { ${statusFields} }
      notANumber: purchaseStatus(orderNumber: "web-77") { ... on Problem { message } __typename }
    }`)
    expect(body.errors).toBeUndefined()
    expect(field(body.data, "completed", "__typename")).toBe("PurchaseCompleted")
    expect(field(body.data, "completed", "items")).toHaveLength(2)
    expect(field(body.data, "processing", "__typename")).toBe("PurchaseProcessing")
    expect(field(body.data, "failed")).toEqual({
      __typename: "PurchaseFailed",
      status: "FAILED",
      message: "order 1003 processing failed"
    })
    expect(field(body.data, "notFound", "__typename")).toBe("OrderNotFound")
    expect(field(body.data, "notFound", "message")).toContain("999999")
    expect(field(body.data, "notANumber", "__typename")).toBe("OrderNotFound")
  })

  it("orders: a cursor connection over local orders in a state", async () => {
    const page = (after?: string) =>
      server.query(
        `query($after: String) { orders(state: processing, first: 1, after: $after) {
          edges { cursor node { orderNumber lines { state } } } nodes { orderNumber } pageInfo { hasNextPage endCursor } } }`,
        after === undefined ? {} : { after }
      )
    const first = await page()
    expect(first.body.errors).toBeUndefined()
    expect(field(first.body.data, "orders", "nodes")).toEqual([{ orderNumber: "1001" }])
    // The whole order comes back, not only its lines in the state asked for.
    expect(field(first.body.data, "orders", "edges", 0, "node", "lines")).toEqual([
      { state: "completed" },
      { state: "processing" }
    ])
    expect(field(first.body.data, "orders", "pageInfo", "hasNextPage")).toBe(true)
    const cursor = field(first.body.data, "orders", "pageInfo", "endCursor")
    expect(typeof cursor).toBe("string")
    const second = await page(String(cursor))
    expect(field(second.body.data, "orders", "nodes")).toEqual([{ orderNumber: "1002" }])
    expect(field(second.body.data, "orders", "pageInfo", "hasNextPage")).toBe(false)

    const all = await server.query(`{ orders(state: processing) { nodes { orderNumber } pageInfo { hasNextPage } } }`)
    expect(field(all.body.data, "orders")).toEqual({
      nodes: [{ orderNumber: "1001" }, { orderNumber: "1002" }],
      pageInfo: { hasNextPage: false }
    })
    const paid = await server.query(`{ orders(state: paid) { nodes { orderNumber } } }`)
    expect(field(paid.body.data, "orders", "nodes")).toEqual([{ orderNumber: "web-77" }])
  })

  it("orders: a malformed cursor or page size is the caller's error, shown as such", async () => {
    const { body } = await server.query(`{ orders(state: paid, after: "nonsense") { nodes { orderNumber } } }`)
    expect(body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT")
    const tooMany = await server.query(`{ orders(state: paid, first: 101) { nodes { orderNumber } } }`)
    expect(tooMany.body.errors?.[0]?.message).toBe("first must be between 1 and 100, got 101")
  })

  it("an out-of-range page size answers the same written out or in a variable: 200, BAD_USER_INPUT (execution had started)", async () => {
    const ask = async (query: string, variables?: Record<string, unknown>) => {
      const response = await fetch(server.graphqlUrl, {
        method: "POST",
        headers: {
          authorization: `Bearer ${ApiKey}`,
          "content-type": "application/json",
          accept: "application/graphql-response+json"
        },
        body: JSON.stringify(variables === undefined ? { query } : { query, variables })
      })
      const body: GraphqlBody = await response.json()
      return {
        status: response.status,
        data: body.data,
        errors: body.errors?.map((e) => [e.message, e.extensions?.code, e.extensions?.argument])
      }
    }
    for (const [field, selection] of [
      ["orders(state: paid", "nodes { orderNumber }"],
      ["assets(", "nodes { assetId }"]
    ] as const) {
      for (const first of [0, -1, 101, 2_147_483_647, null]) {
        const expected = {
          status: 200,
          data: null,
          errors: [[`first must be between 1 and 100, got ${first}`, "BAD_USER_INPUT", "first"]]
        }
        const separator = field.endsWith("(") ? "" : ", "
        expect(await ask(`{ ${field}${separator}first: ${first}) { ${selection} } }`)).toEqual(expected)
        expect(await ask(`query($f: Int) { ${field}${separator}first: $f) { ${selection} } }`, { f: first })).toEqual(
          expected
        )
      }
    }
    // A list over the limit, however long, is the same kind of answer (not a cost refusal).
    const numbers = Array.from({ length: 5000 }, (_, i) => String(i + 1))
    expect(
      await ask(`query($n: [ID!]!) { ordersByNumber(orderNumbers: $n) { orderNumber lines { downloadUrl } } }`, {
        n: numbers
      })
    ).toEqual({
      status: 200,
      data: null,
      errors: [["at most 100 order numbers", "BAD_USER_INPUT", "orderNumbers"]]
    })
  })

  it("ordersByNumber: in the order asked, null for unknown ones", async () => {
    const { body } = await server.query(
      `{ ordersByNumber(orderNumbers: ["1002", "nope", "1001", "1002"]) { orderNumber } }`
    )
    expect(field(body.data, "ordersByNumber")).toEqual([
      { orderNumber: "1002" },
      null,
      { orderNumber: "1001" },
      { orderNumber: "1002" }
    ])
  })

  it("a malformed order number is the caller's error in every field that takes one, never an Error in the log", async () => {
    const errorLines = () => server.logs.filter((line) => JSON.parse(line).logLevel === "ERROR").length
    const before = errorLines()
    for (const bad of ["", "1' OR '1'='1", "\u0661\u0662\u0663", " 1001", "1001; DROP TABLE order_lines"]) {
      const one = await server.query(`query($n: ID!) { order(orderNumber: $n) { orderNumber } }`, { n: bad })
      expect(one.status).toBe(200)
      expect(field(one.body.data, "order")).toBeNull()
      expect(one.body.errors?.map((e) => [e.extensions?.code, e.extensions?.argument])).toEqual([
        ["BAD_USER_INPUT", "orderNumber"]
      ])
      expect(one.body.errors?.[0]?.message).toContain("is not an order number")
      // In a list, the bad one is named, and the good ones are not read for nothing.
      const many = await server.query(`query($n: ID!) { ordersByNumber(orderNumbers: ["1001", $n]) { orderNumber } }`, {
        n: bad
      })
      expect(many.body.errors?.map((e) => [e.extensions?.code, e.extensions?.argument])).toEqual([
        ["BAD_USER_INPUT", "orderNumbers.1"]
      ])
      const status = await server.query(`query($n: ID!) { purchaseStatus(orderNumber: $n) { __typename } }`, { n: bad })
      expect(field(status.body.data, "purchaseStatus", "__typename")).toBe("OrderNotFound")
      const cancel = await server.query(
        `mutation($n: ID!) { cancelOrderLine(orderNumber: $n, orderLineId: "1") { __typename ... on InvalidInput { field } } }`,
        { n: bad }
      )
      expect(field(cancel.body.data, "cancelOrderLine")).toEqual({ __typename: "InvalidInput", field: "orderNumber" })
    }
    expect(errorLines()).toBe(before)
  })

  it("assets: HL Connect's catalog as a connection (keyset paging)", async () => {
    const fields = `edges { cursor node { assetId title description formatShortName format assetType pageCount songNumber publicDomain
      externalRef externalRefId voicing performanceTime difficultyLevelLow difficultyLevelHigh minQuantity tempo world countries
      retailPrice smdId explicit partable categories keywords series skills
      prices { typeId typeUsage price } contributors { isPrimary name mbid role } instruments { type name }
      images { name url } renderings { type usage } relatedGoods { relatedProductId goodType sheet featured primeSource }
      usergens { arrangeable vendorSongId commissionOverrideRate medleyAssets { name hlSongId sequence } }
      packages { assetId instrumentationPartCode score } } } pageInfo { hasNextPage endCursor }`
    const first = await server.query(`{ assets(first: 3) { ${fields} } }`)
    expect(first.body.errors).toBeUndefined()
    const edges = field(first.body.data, "assets", "edges")
    expect(Array.isArray(edges) ? edges.map((e) => field(e, "node", "assetId")) : edges).toEqual([4000, 4001, 4002])
    expect(field(first.body.data, "assets", "edges", 0, "node", "contributors")).toEqual([
      { isPrimary: true, name: "Ludwig van Beethoven", mbid: null, role: "Composer" }
    ])
    expect(field(first.body.data, "assets", "edges", 0, "node", "instruments")).toEqual([{ type: "PF", name: "Piano" }])
    expect(field(first.body.data, "assets", "edges", 0, "node", "prices", 0)).toEqual({
      typeId: 1,
      typeUsage: "digital",
      price: 3.99
    })
    expect(field(first.body.data, "assets", "edges", 1, "node", "voicing")).toBe("SATB")
    expect(field(first.body.data, "assets", "edges", 1, "node", "usergens", 0, "medleyAssets", 0, "sequence")).toBe(1)
    expect(field(first.body.data, "assets", "edges", 2, "node", "countries")).toEqual(["US", "CA"])
    expect(field(first.body.data, "assets", "pageInfo")).toEqual({ hasNextPage: true, endCursor: "4002" })
    const next = await server.query(
      `{ assets(first: 2, after: "4002") { nodes { assetId partable packages { assetId instrumentationPartName score } } } }`
    )
    const parts = (ids: ReadonlyArray<readonly [number, string]>) =>
      ids.map(([assetId, name]) => ({ assetId, instrumentationPartName: name, score: false }))
    expect(field(next.body.data, "assets", "nodes")).toEqual([
      {
        assetId: 4003,
        partable: true,
        packages: [
          { assetId: 4003, instrumentationPartName: "Full Score", score: true },
          ...parts([
            [4004, "Violin I"],
            [4005, "Violin II"],
            [4006, "Viola"],
            [4007, "Cello"]
          ])
        ]
      },
      { assetId: 4004, partable: false, packages: [] }
    ])
    const bad = await server.query(`{ assets(after: "x") { nodes { assetId } } }`)
    expect(bad.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT")
  })

  it("health: store and HL Connect", async () => {
    const { body } = await server.query(`{ health { ok components { name ok detail } } }`)
    expect(field(body.data, "health", "ok")).toBe(true)
    expect(field(body.data, "health", "components", 0)).toEqual({ name: "store", ok: true, detail: null })
  })
})
