/**
 * The three mutations: each success and each expected failure as a union member, with
 * HL Connect's own message; unexpected failures are covered in errors.test.ts, the store and
 * reconciler side of the workflow in workflow.test.ts.
 */
import { OrderLines } from "@hlconnect/store"
import { Duration, Effect, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { purchaseInput, registerAtSandbox, upstreamRequests } from "./support/seed.js"
import { field, startServer, type TestServer } from "./support/server.js"

const validate = `mutation($input: ValidatePurchaseInput!) { validatePurchase(input: $input) {
  __typename
  ... on ValidationToken { token expiresAt }
  ... on Problem { message }
  ... on ValidationRejected { reason }
  ... on InvalidInput { field }
} }`

const register = `mutation($input: RegisterPurchaseInput!) { registerPurchase(input: $input) {
  __typename
  ... on Registered { orderNumber orderLineId }
  ... on AlreadyRegistered { orderNumber orderLineId }
  ... on Problem { message }
  ... on ValidationRejected { reason }
  ... on InvalidInput { field }
  ... on OrderLineConflict { fields }
  ... on OrderLineBlocked { state }
  ... on RetryScheduled { error state }
} }`

const cancel = `mutation($orderNumber: ID!, $orderLineId: ID!) { cancelOrderLine(orderNumber: $orderNumber, orderLineId: $orderLineId) {
  __typename
  ... on OrderLineCancelled { orderNumber orderLineId tracked }
  ... on Problem { message }
  ... on InvalidOrderStatus { remoteStatus }
  ... on InvalidInput { field }
} }`

describe("mutations", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  const validatePurchase = async (input: Record<string, unknown>) => {
    const { body } = await server.query(validate, { input })
    expect(body.errors).toBeUndefined()
    return field(body.data, "validatePurchase")
  }
  const registerPurchase = async (input: Record<string, unknown>) => {
    const { body } = await server.query(register, { input })
    expect(body.errors).toBeUndefined()
    return field(body.data, "registerPurchase")
  }
  const token = async () =>
    String(field(await validatePurchase({ assetId: 4000, customerIp: "192.0.2.1", quantity: 1 }), "token"))
  const purchase = (overrides: Record<string, unknown>) =>
    purchaseInput({
      orderNumber: "2001",
      customer: "Fanny Mendelssohn",
      customerEmail: "fanny@example.com",
      ...overrides
    })
  const localLine = (orderNumber: string, orderLineId = "1") =>
    server
      .run(Effect.flatMap(OrderLines.OrderLines, (lines) => lines.findOrder(orderNumber)))
      .then((order) =>
        order._tag === "Some" ? order.value.lines.find((l) => l.orderLineId === orderLineId) : undefined
      )

  it("validatePurchase: a token, or why HL Connect would refuse", async () => {
    const ok = await validatePurchase({ assetId: 4000, customerIp: "192.0.2.1", quantity: 1 })
    expect(field(ok, "__typename")).toBe("ValidationToken")
    expect(field(ok, "token")).toEqual(expect.any(String))
    expect(Date.parse(String(field(ok, "expiresAt")))).toBeGreaterThan(Date.now())

    expect(await validatePurchase({ assetId: 1, customerIp: "192.0.2.1", quantity: 1 })).toEqual({
      __typename: "AssetNotFound",
      message: "asset 1 does not exist"
    })
    // Yesterday sells in the US and Canada only; 198.51.100.0/24 is Great Britain.
    expect(await validatePurchase({ assetId: 4002, customerIp: "198.51.100.7", quantity: 1 })).toEqual({
      __typename: "ValidationRejected",
      message: "asset 4002 is not sellable in GB",
      reason: "NotSellableInCountry"
    })
    expect(field(await validatePurchase({ assetId: 4001, customerIp: "192.0.2.1", quantity: 1 }), "reason")).toBe(
      "QuantityBelowMinimum"
    )
    expect(await validatePurchase({ assetId: 4000, customerIp: "not-an-ip", quantity: 1 })).toMatchObject({
      __typename: "InvalidInput",
      field: "customerIp"
    })
  })

  it("validatePurchase: HL Connect's 400 is BadRequest", async () => {
    await server.sandbox.run(
      server.sandbox.state.scriptFaults([
        {
          kind: "custom",
          endpoint: "validatePurchase",
          times: 1,
          status: 400,
          body: '{"message":"malformed request"}',
          retry_after_seconds: 0,
          delay_ms: 0
        }
      ])
    )
    expect(await validatePurchase({ assetId: 4000, customerIp: "192.0.2.1", quantity: 1 })).toEqual({
      __typename: "BadRequest",
      message: "malformed request"
    })
  })

  it("registerPurchase: registered, repeated, conflicting, refused", async () => {
    const first = purchase({ token: await token() })
    expect(await registerPurchase(first)).toEqual({ __typename: "Registered", orderNumber: "2001", orderLineId: "1" })
    expect((await localLine("2001"))?.state).toBe("registered")
    const calls = (await upstreamRequests(server)).registerPurchase

    // The same purchase again, with the same or a fresh token: answered from the store.
    expect(await registerPurchase(first)).toEqual({
      __typename: "AlreadyRegistered",
      orderNumber: "2001",
      orderLineId: "1"
    })
    expect(await registerPurchase(purchase({ token: await token() }))).toEqual({
      __typename: "AlreadyRegistered",
      orderNumber: "2001",
      orderLineId: "1"
    })
    // The caller's retry flag is no longer needed (the store knows), and harmless.
    expect(field(await registerPurchase({ ...first, mayHaveBeenSentBefore: true }), "__typename")).toBe(
      "AlreadyRegistered"
    )
    expect((await upstreamRequests(server)).registerPurchase).toBe(calls)

    // The same line with other content: a conflict, and nothing changes.
    const before = await localLine("2001")
    expect(await registerPurchase(purchase({ token: await token(), unitPrice: 4.99, lineItemPrice: 4.99 }))).toEqual({
      __typename: "OrderLineConflict",
      message: "order 2001 line 1 is already recorded with a different unitPrice, lineItemPrice; nothing was changed",
      fields: ["unitPrice", "lineItemPrice"]
    })
    expect(await localLine("2001")).toEqual(before)
    expect((await upstreamRequests(server)).registerPurchase).toBe(calls)

    expect(await registerPurchase(purchase({ orderNumber: "2002", token: "never-issued" }))).toEqual({
      __typename: "ValidationRejected",
      message: "the validation token is unknown",
      reason: "InvalidToken"
    })
    expect((await localLine("2002"))?.state).toBe("needs_attention")
    // Validating again is the fix: the line takes the new token and is registered.
    expect(await registerPurchase(purchase({ orderNumber: "2002", token: await token() }))).toEqual({
      __typename: "Registered",
      orderNumber: "2002",
      orderLineId: "1"
    })
    expect(
      await registerPurchase(
        purchase({ orderNumber: "2003", token: await token(), parts: [{ assetId: 1, orderLineId: "2" }] })
      )
    ).toEqual({ __typename: "AssetNotFound", message: "asset 1 does not exist" })
    // Parked with the reason; asked again, the line says so instead of sending it again.
    expect(
      await registerPurchase(
        purchase({ orderNumber: "2003", token: await token(), parts: [{ assetId: 1, orderLineId: "2" }] })
      )
    ).toEqual({
      __typename: "OrderLineBlocked",
      message: "order 2003 line 1 needs attention: HL Connect does not know the asset: asset 1 does not exist",
      state: "needs_attention"
    })
  })

  it("registerPurchase: a line another system registered is OrderAlreadyExists", async () => {
    await registerAtSandbox(server, 2101, [{ lineId: 1 }])
    expect(await registerPurchase(purchase({ orderNumber: "2101", token: await token() }))).toEqual({
      __typename: "OrderAlreadyExists",
      message: "order 2101 line 1 is already registered"
    })
    expect((await localLine("2101"))?.state).toBe("needs_attention")
  })

  it("registerPurchase: invalid input is refused before anything is stored or sent", async () => {
    const calls = (await upstreamRequests(server)).registerPurchase
    const refused = async (overrides: Record<string, unknown>) =>
      field(await registerPurchase(purchase({ token: "t", ...overrides })), "field")
    expect(await refused({ orderNumber: "web-1" })).toBe("orderNumber")
    expect(await refused({ orderNumber: "2201", customer: "   " })).toBe("customer")
    expect(await refused({ orderNumber: "2201", unitPrice: 3.999, lineItemPrice: 3.999 })).toBe("unitPrice")
    expect(await refused({ orderNumber: "2201", quantity: 2 })).toBe("lineItemPrice")
    expect(await refused({ orderNumber: "2201", currency: "euro" })).toBe("currency")
    expect(await refused({ orderNumber: "2201", customerEmail: "fanny" })).toBe("customerEmail")
    expect(await refused({ orderNumber: "2201", parts: [{ assetId: 4001, orderLineId: "1" }] })).toBe("parts")
    expect(await refused({ orderNumber: "2201", parts: [{ assetId: 4001, orderLineId: "0" }] })).toBe(
      "parts.0.orderLineId"
    )
    expect(await localLine("2201")).toBeUndefined()
    expect((await upstreamRequests(server)).registerPurchase).toBe(calls)
  })

  it("registerPurchase: ill-formed text (lone surrogate, NUL, line break) is InvalidInput naming the field; nothing stored or sent", async () => {
    const calls = (await upstreamRequests(server)).registerPurchase
    const refused = async (overrides: Record<string, unknown>) => {
      const answer = await registerPurchase(purchase({ orderNumber: "2211", token: await token(), ...overrides }))
      return `${String(field(answer, "__typename"))} ${String(field(answer, "field"))}: ${String(field(answer, "message"))}`
    }
    expect(await refused({ customer: "Ann \ud83c" })).toBe(
      "InvalidInput customer: customer: contains a lone surrogate at index 4"
    )
    expect(await refused({ customer: "a\u0000b" })).toBe(
      "InvalidInput customer: customer: contains the control character U+0000 at index 1"
    )
    expect(await refused({ customerEmail: "fanny\u2028@example.com" })).toBe(
      "InvalidInput customerEmail: customerEmail: contains the line break U+2028 at index 5; it must be a single line"
    )
    expect(await refused({ token: "tok\udc00" })).toBe(
      "InvalidInput token: token: contains a lone surrogate at index 3"
    )
    expect(await localLine("2211")).toBeUndefined()
    expect((await upstreamRequests(server)).registerPurchase).toBe(calls)
  })

  it("registerPurchase: the same purchase with the name spelled NFC, then NFD, is AlreadyRegistered", async () => {
    const nfc = purchase({
      orderNumber: "2212",
      token: await token(),
      customer: "Zo\u00eb Mendelssohn",
      customerEmail: "zo\u00eb@example.com"
    })
    expect(await registerPurchase(nfc)).toEqual({ __typename: "Registered", orderNumber: "2212", orderLineId: "1" })
    const calls = (await upstreamRequests(server)).registerPurchase
    const nfd = { ...nfc, customer: "Zoe\u0308 Mendelssohn", customerEmail: "zoe\u0308@example.com" }
    expect(await registerPurchase(nfd)).toEqual({
      __typename: "AlreadyRegistered",
      orderNumber: "2212",
      orderLineId: "1"
    })
    expect((await upstreamRequests(server)).registerPurchase).toBe(calls)
    expect(Option.getOrNull((await localLine("2212"))?.customerName ?? Option.none())).toBe("Zo\u00eb Mendelssohn")
  })

  it("one quantity rule: validatePurchase and registerPurchase accept 1 to 100000, and refuse the rest alike", async () => {
    const before = await upstreamRequests(server)
    const tooMany = { assetId: 4000, customerIp: "192.0.2.1", quantity: 2_147_483_647 }
    const validated = await validatePurchase(tooMany)
    const registered = await registerPurchase(
      purchase({ token: "t", orderNumber: "2301", quantity: 100_001, lineItemPrice: 399_003.99 })
    )
    for (const answer of [validated, registered]) {
      expect(answer).toEqual({
        __typename: "InvalidInput",
        field: "quantity",
        message: "quantity: must be an integer between 1 and 100000"
      })
    }
    expect(field(await validatePurchase({ ...tooMany, quantity: 0 }), "field")).toBe("quantity")
    const after = await upstreamRequests(server)
    expect([after.validatePurchase, after.registerPurchase]).toEqual([before.validatePurchase, before.registerPurchase])
    // The bound itself is accepted by both.
    expect(field(await validatePurchase({ ...tooMany, quantity: 100_000 }), "__typename")).toBe("ValidationToken")
  })

  it("registerPurchase: HL Connect unavailable leaves the line to the reconciler; asking again retries it", async () => {
    await server.sandbox.run(
      server.sandbox.state.scriptFaults([
        {
          kind: "error500",
          endpoint: "registerPurchase",
          times: 1,
          status: 200,
          body: "",
          retry_after_seconds: 0,
          delay_ms: 0
        }
      ])
    )
    const input = purchase({ orderNumber: "2301", token: await token() })
    expect(await registerPurchase(input)).toMatchObject({
      __typename: "RetryScheduled",
      state: "registering",
      error: expect.stringContaining("unavailable")
    })
    expect((await localLine("2301"))?.state).toBe("registering")
    expect(await registerPurchase(input)).toEqual({ __typename: "Registered", orderNumber: "2301", orderLineId: "1" })
  })

  it("registerPurchase: an expired token is ValidationRejected TokenExpired", async () => {
    const expiring = await startServer({ sandbox: { validationTokenTtl: Duration.millis(1) } })
    try {
      const validated = await expiring.query(validate, {
        input: { assetId: 4000, customerIp: "192.0.2.1", quantity: 1 }
      })
      const expired = String(field(validated.body.data, "validatePurchase", "token"))
      await new Promise((resolve) => setTimeout(resolve, 20))
      const { body } = await expiring.query(register, { input: purchase({ token: expired }) })
      expect(field(body.data, "registerPurchase")).toEqual({
        __typename: "ValidationRejected",
        message: "the validation token has expired; validate again",
        reason: "TokenExpired"
      })
    } finally {
      await expiring.close()
    }
  })

  it("cancelOrderLine: a line unknown locally is cancelled at HL Connect directly (tracked: false)", async () => {
    await registerAtSandbox(server, 3001, [{ lineId: 1 }])
    const cancelLine = async (orderNumber: string, orderLineId: string) => {
      const { body } = await server.query(cancel, { orderNumber, orderLineId })
      expect(body.errors).toBeUndefined()
      return field(body.data, "cancelOrderLine")
    }
    expect(await cancelLine("3001", "1")).toEqual({
      __typename: "OrderLineCancelled",
      orderNumber: "3001",
      orderLineId: "1",
      tracked: false
    })
    expect(await cancelLine("3001", "1")).toEqual({
      __typename: "InvalidOrderStatus",
      message: "order line 1 is CANCELLED and cannot be cancelled",
      remoteStatus: null
    })
    expect(await cancelLine("3001", "9")).toEqual({
      __typename: "OrderNotFound",
      message: "no order line 9 in order 3001"
    })
    expect(await cancelLine("3001", "first")).toMatchObject({ __typename: "InvalidInput", field: "orderLineId" })
    expect(await localLine("3001")).toBeUndefined()
  })
})
