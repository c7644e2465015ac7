/**
 * A client that goes away takes its HL Connect calls with it: the resolvers' fibers (run one by
 * one, or batched by a loader) are interrupted, and with them the calls they were waiting on.
 * The sandbox holds each call (latency far beyond the test) and counts the one its client
 * abandoned; without the interruption the call would wait out the latency and never be counted.
 * A workflow write is the exception: it finishes what it started.
 */
import { HlConnect } from "@hlconnect/core"
import { FaultSettings } from "@hlconnect/sandbox"
import { OrderLines } from "@hlconnect/store"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { purchaseInput, resetStats } from "./support/seed.js"
import { ApiKey, startServer, type TestServer } from "./support/server.js"

describe("a client disconnecting", () => {
  let server: TestServer
  beforeAll(async () => {
    // The client's own deadline is far away too: only the interruption can end the call.
    server = await startServer({ client: { attemptTimeout: "10 minutes" } })
  })
  afterAll(async () => {
    await server?.close()
  })

  const stats = () => server.sandbox.run(server.sandbox.state.stats)

  /** Sends the operation, waits until HL Connect's `endpoint` (held `latencyMs`) was called, and aborts the request. */
  const abortDuringCall = async (
    endpoint: string,
    latencyMs: number,
    query: string,
    variables: Record<string, unknown> = {}
  ) => {
    await resetStats(server)
    await server.sandbox.run(
      server.sandbox.state.setFaults(FaultSettings.make({ latency_ms: latencyMs, endpoints: [endpoint] }))
    )
    const client = new AbortController()
    const pending = fetch(server.graphqlUrl, {
      method: "POST",
      signal: client.signal,
      headers: { "content-type": "application/json", authorization: `Bearer ${ApiKey}` },
      body: JSON.stringify({ query, variables })
    })
    await expect.poll(async () => (await stats()).requests[endpoint] ?? 0, { timeout: 10_000 }).toBe(1)
    expect((await stats()).abandoned).toEqual({})
    client.abort()
    await expect(pending).rejects.toThrow()
  }

  /** Aborts while `endpoint` is held far beyond the test; the sandbox must see the call abandoned. */
  const abortWhileUpstream = async (query: string, endpoint: string) => {
    await abortDuringCall(endpoint, 600_000, query)
    await expect.poll(async () => (await stats()).abandoned, { timeout: 20_000 }).toEqual({ [endpoint]: 1 })
    // Nothing was answered, nothing was asked again, and a client going away is no error of ours.
    expect((await stats()).responses).toEqual({})
    expect((await stats()).requests).toEqual({ [endpoint]: 1 })
    expect(server.logs.filter((line) => JSON.parse(line).logLevel === "ERROR")).toEqual([])
    await resetStats(server)
  }

  it("interrupts a loader's batch: purchaseInfo is abandoned at HL Connect", async () => {
    await abortWhileUpstream(`{ purchaseStatus(orderNumber: "424242") { __typename } }`, "purchaseInfo")
  })

  it("interrupts a resolver's own effect: listAssets is abandoned at HL Connect", async () => {
    await abortWhileUpstream(`{ assets(first: 1) { nodes { assetId } } }`, "listAssets")
  })

  it("lets a workflow write finish: registerPurchase is recorded as registered though its client went away", async () => {
    const { token } = await server.run(
      Effect.flatMap(HlConnect, (hl) => hl.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 }))
    )
    const input = purchaseInput({ token, orderNumber: "6101" })
    // Held long enough for the abort to land during the call, short enough to finish within the test.
    await abortDuringCall(
      "registerPurchase",
      1_500,
      `mutation($input: RegisterPurchaseInput!) { registerPurchase(input: $input) { __typename } }`,
      {
        input
      }
    )
    const state = () =>
      server.run(OrderLines.OrderLines.get({ orderNumber: "6101", orderLineId: "1" })).then((line) => line.state)
    await expect.poll(state, { timeout: 20_000 }).toBe("registered")
    expect((await stats()).abandoned).toEqual({})
    expect((await stats()).registrations).toEqual({ "6101:1": 1 })
    await resetStats(server)
  })

  it("still answers the next request on the same server", async () => {
    const answer = await server.query(`{ purchaseStatus(orderNumber: "424242") { __typename } }`)
    expect(answer.body).toEqual({ data: { purchaseStatus: { __typename: "OrderNotFound" } } })
  })
})
