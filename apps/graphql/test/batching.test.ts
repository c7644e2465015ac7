/**
 * Per-request batching and deduplication, proven by counting the sandbox's requests; one
 * failing key fails only its own fields; download and view URLs are fetched fresh for every request.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { registerAtSandbox, resetStats, settle, storeOrder, upstreamRequests } from "./support/seed.js"
import { field, startServer, type TestServer } from "./support/server.js"

describe("batching", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer()
    for (const order of [5001, 5002, 5003]) {
      await registerAtSandbox(server, order, [{ lineId: 1 }, { lineId: 2 }])
      await settle(server, order, 1, "COMPLETED")
      await settle(server, order, 2, "COMPLETED")
      await storeOrder(server, String(order), [
        { lineId: 1, state: "completed" },
        { lineId: 2, state: "completed" }
      ])
    }
  })
  beforeEach(async () => {
    await resetStats(server)
  })
  afterAll(async () => {
    await server?.close()
  })

  it("the same order touched in ten places is one purchaseInfo call", async () => {
    const { body } = await server.query(`{
      order(orderNumber: "5001") {
        drifted
        remote { __typename }
        lines { remoteStatus drift { drifted } }
      }
      a: purchaseStatus(orderNumber: "5001") { __typename }
      b: purchaseStatus(orderNumber: "5001") { __typename }
      c: purchaseStatus(orderNumber: 5001) { __typename }
      again: order(orderNumber: "5001") { remote { __typename } lines { remoteStatus } }
    }`)
    expect(body.errors).toBeUndefined()
    expect(field(body.data, "a", "__typename")).toBe("PurchaseCompleted")
    // order.remote, drifted, 2 × remoteStatus, 2 × drift, a, b, c, again.remote, 2 × again.remoteStatus: 12 references.
    expect((await upstreamRequests(server)).purchaseInfo).toBe(1)
  })

  it("many orders with repeats: one call per distinct order, per request", async () => {
    const numbers = ["5001", "5002", "5003", "5001", "5002", "5003", "5003"]
    const query = `query($n: [ID!]!) { ordersByNumber(orderNumbers: $n) { orderNumber remote { __typename } lines { remoteStatus } } }`
    const { body } = await server.query(query, { n: numbers })
    expect(body.errors).toBeUndefined()
    expect(field(body.data, "ordersByNumber", 6, "orderNumber")).toBe("5003")
    expect((await upstreamRequests(server)).purchaseInfo).toBe(3)
    // The cache lives as long as one GraphQL request: the next request asks HL Connect again.
    await server.query(query, { n: numbers })
    expect((await upstreamRequests(server)).purchaseInfo).toBe(6)
  })

  it("one failing key fails only its own fields", async () => {
    await server.sandbox.run(
      server.sandbox.state.scriptFaults([
        {
          kind: "teapot418",
          endpoint: "purchaseInfo",
          times: 1,
          retry_after_seconds: 0,
          delay_ms: 0,
          status: 200,
          body: ""
        }
      ])
    )
    const { body } = await server.query(`{
      a: purchaseStatus(orderNumber: "5001") { __typename }
      b: purchaseStatus(orderNumber: "5002") { __typename }
      c: purchaseStatus(orderNumber: "5003") { __typename }
    }`)
    expect(body.errors).toHaveLength(1)
    const failed = body.errors?.[0]
    expect(failed?.message).toBe("Unexpected error.")
    expect(failed?.extensions?.correlationId).toEqual(expect.any(String))
    const failedAlias = String(failed?.path?.[0])
    // A non-null field failed, so the error nulls the whole data; the other keys resolved
    // nonetheless (their upstream calls ran), which the nullable `remote` shows next.
    expect(["a", "b", "c"]).toContain(failedAlias)
    expect((await upstreamRequests(server)).purchaseInfo).toBe(3)

    await resetStats(server)
    await server.sandbox.run(
      server.sandbox.state.scriptFaults([
        {
          kind: "teapot418",
          endpoint: "purchaseInfo",
          times: 1,
          retry_after_seconds: 0,
          delay_ms: 0,
          status: 200,
          body: ""
        }
      ])
    )
    const nullable = await server.query(`{
      a: order(orderNumber: "5001") { remote { __typename } }
      b: order(orderNumber: "5002") { remote { __typename } }
      c: order(orderNumber: "5003") { remote { __typename } }
    }`)
    expect(nullable.body.errors).toHaveLength(1)
    const remotes = ["a", "b", "c"].map((alias) => field(nullable.body.data, alias, "remote"))
    expect(remotes.filter((remote) => remote === null)).toHaveLength(1)
    expect(remotes.filter((remote) => field(remote, "__typename") === "PurchaseCompleted")).toHaveLength(2)
  })

  it("download and view URLs: asked once per request (aliases share it), fresh in every request, never logged", async () => {
    const query = `{ order(orderNumber: "5001") { lines { first: downloadUrl second: downloadUrl viewUrl } } }`
    const one = await server.query(query)
    const two = await server.query(query)
    expect(one.body.errors).toBeUndefined()
    const urls = (r: typeof one, alias: string) =>
      [0, 1].map((line) => field(r.body.data, "order", "lines", line, alias))
    for (const r of [one, two]) expect(urls(r, "second")).toEqual(urls(r, "first"))
    const all = [...urls(one, "first"), ...urls(two, "first")]
    expect(all.every((url) => typeof url === "string" && url.includes("/nf/download/"))).toBe(true)
    // Two lines, two requests: four distinct URLs, never one from a previous request.
    expect(new Set(all).size).toBe(4)
    const requests = await upstreamRequests(server)
    expect(requests.downloadUrl).toBe(4)
    expect(requests.viewUrl).toBe(4)
    // The URLs are credentials: they must not reach the log.
    expect(server.logs.some((line) => line.includes("/nf/"))).toBe(false)
  })
})
