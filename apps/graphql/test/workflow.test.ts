/**
 * The mutations go through the order workflow the relay and the reconciler share: what GraphQL
 * registers is recorded, completed by a reconciler pass and announced in the outbox; what it
 * cancels is cancelled locally, announced and cancelled at HL Connect.
 */
import { HlConnect } from "@hlconnect/core"
import { Fulfilment } from "@hlconnect/fulfilment"
import { OrderLines, Outbox } from "@hlconnect/store"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { purchaseInput, settle, storeOrder, upstreamRequests } from "./support/seed.js"
import { field, startServer, type TestServer } from "./support/server.js"

const register = `mutation($input: RegisterPurchaseInput!) { registerPurchase(input: $input) {
  __typename
  ... on Problem { message }
} }`

const cancel = `mutation($orderNumber: ID!, $orderLineId: ID!) { cancelOrderLine(orderNumber: $orderNumber, orderLineId: $orderLineId) {
  __typename
  ... on OrderLineCancelled { tracked }
  ... on Problem { message }
  ... on InvalidOrderStatus { remoteStatus }
  ... on OrderLineBlocked { state }
  ... on RetryScheduled { state }
} }`

describe("mutations through the order workflow", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  const token = () =>
    server
      .run(
        Effect.flatMap(HlConnect, (hl) =>
          hl.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 })
        )
      )
      .then((t) => t.token)
  const registerPurchase = async (orderNumber: string, tokenValue: string) => {
    const input = purchaseInput({ token: tokenValue, orderNumber })
    const { body } = await server.query(register, { input })
    expect(body.errors).toBeUndefined()
    return field(body.data, "registerPurchase")
  }
  const cancelLine = async (orderNumber: string, orderLineId = "1") => {
    const { body } = await server.query(cancel, { orderNumber, orderLineId })
    expect(body.errors).toBeUndefined()
    return field(body.data, "cancelOrderLine")
  }
  const line = (orderNumber: string) => server.run(OrderLines.OrderLines.get({ orderNumber, orderLineId: "1" }))
  const eventTypes = (orderNumber: string) =>
    server.run(Outbox.Outbox.eventsForOrder(orderNumber)).then((events) => events.map((e) => e.eventType))
  const registrations = async (orderNumber: string) =>
    (await server.sandbox.run(server.sandbox.state.stats)).registrations[`${orderNumber}:1`] ?? 0
  const remoteStatus = (orderNumber: string) =>
    server.run(
      Effect.flatMap(Fulfilment, (f) => f.readRemote(orderNumber)).pipe(
        Effect.map((remote) => (remote._tag === "Completed" ? remote.items[0]?.status : remote._tag))
      )
    )

  it("a purchase registered through GraphQL is recorded, completed by one reconciler pass, and announced", async () => {
    expect(await registerPurchase("5001", await token())).toEqual({ __typename: "Registered" })
    const registered = await line("5001")
    expect(registered.state).toBe("registered")
    expect(registered.nextCheckAt._tag).toBe("Some")

    await settle(server, 5001, 1, "COMPLETED")
    const report = await server.run(Effect.flatMap(Fulfilment, (f) => f.reconcileOrder([registered])))
    expect(report.lines.map((l) => l.outcome)).toEqual([{ _tag: "Transitioned", to: "completed" }])
    expect((await line("5001")).state).toBe("completed")
    expect(await eventTypes("5001")).toEqual(["order.completed"])
  })

  it("the same registerPurchase twice registers once at HL Connect", async () => {
    const t = await token()
    expect(await registerPurchase("5002", t)).toEqual({ __typename: "Registered" })
    const calls = (await upstreamRequests(server)).registerPurchase
    expect(await registerPurchase("5002", t)).toEqual({ __typename: "AlreadyRegistered" })
    expect((await upstreamRequests(server)).registerPurchase).toBe(calls)
    expect(await registrations("5002")).toBe(1)
  })

  it("cancelling a tracked line: cancelled locally and at HL Connect, order.cancelled published; repeating is harmless", async () => {
    await registerPurchase("6001", await token())
    expect(await cancelLine("6001")).toEqual({ __typename: "OrderLineCancelled", tracked: true })
    expect((await line("6001")).state).toBe("cancelled")
    expect(await eventTypes("6001")).toEqual(["order.cancelled"])
    expect(await remoteStatus("6001")).toBe("CANCELLED")

    const calls = (await upstreamRequests(server)).cancelOrderLine
    expect(await cancelLine("6001")).toEqual({ __typename: "OrderLineCancelled", tracked: true })
    expect((await upstreamRequests(server)).cancelOrderLine).toBe(calls)
    expect(await eventTypes("6001")).toEqual(["order.cancelled"])
  })

  it("cancelling a tracked line never sent: cancelled locally, HL Connect not called", async () => {
    await storeOrder(server, "6002", [{ lineId: 1 }])
    const calls = (await upstreamRequests(server)).cancelOrderLine ?? 0
    expect(await cancelLine("6002")).toEqual({ __typename: "OrderLineCancelled", tracked: true })
    expect((await line("6002")).state).toBe("cancelled")
    expect(await eventTypes("6002")).toEqual(["order.cancelled"])
    expect((await upstreamRequests(server)).cancelOrderLine ?? 0).toBe(calls)
  })

  it("cancelling an ensemble part on its own is refused: the part goes with its line; nothing is sent", async () => {
    await storeOrder(server, "6010", [
      { lineId: 1, assetId: 4003, state: "registered", parts: [{ asset: "4004", orderLineId: "2" }] }
    ])
    const calls = (await upstreamRequests(server)).cancelOrderLine ?? 0
    expect(await cancelLine("6010", "2")).toEqual({
      __typename: "OrderLineBlocked",
      message: "order 6010 line 2 is an ensemble part of line 1: a part is cancelled with its line (cancel line 1)",
      state: "registered"
    })
    expect((await line("6010")).state).toBe("registered")
    expect((await upstreamRequests(server)).cancelOrderLine ?? 0).toBe(calls)
  })

  it("a refused cancellation of a tracked line says HL Connect's status and parks the line", async () => {
    await registerPurchase("6003", await token())
    await settle(server, 6003, 1, "FAILED")
    expect(await cancelLine("6003")).toEqual({
      __typename: "InvalidOrderStatus",
      message: "order line 1 is FAILED and cannot be cancelled",
      remoteStatus: "FAILED"
    })
    expect((await line("6003")).state).toBe("needs_attention")
    expect(await cancelLine("6003")).toMatchObject({ __typename: "OrderLineBlocked", state: "needs_attention" })
  })

  it("HL Connect unavailable during a tracked cancellation: the reconciler retries; asking again sends it", async () => {
    await registerPurchase("6004", await token())
    await server.sandbox.run(
      server.sandbox.state.scriptFaults([
        {
          kind: "error500",
          endpoint: "cancelOrderLine",
          times: 1,
          status: 200,
          body: "",
          retry_after_seconds: 0,
          delay_ms: 0
        }
      ])
    )
    expect(await cancelLine("6004")).toMatchObject({ __typename: "RetryScheduled", state: "cancel_requested" })
    expect((await line("6004")).state).toBe("cancel_requested")
    expect(await cancelLine("6004")).toEqual({ __typename: "OrderLineCancelled", tracked: true })
    expect(await eventTypes("6004")).toEqual(["order.cancelled"])
  })
})
