/**
 * The three mutations: each success and each expected failure as a union member, with
 * HL Connect's own message; unexpected failures are covered in errors.test.ts.
 */
import { Duration } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { registerAtSandbox } from "./support/seed.js"
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
} }`

const cancel = `mutation($orderNumber: ID!, $orderLineId: ID!) { cancelOrderLine(orderNumber: $orderNumber, orderLineId: $orderLineId) {
  __typename
  ... on OrderLineCancelled { orderNumber orderLineId }
  ... on Problem { message }
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
  const token = async () => String(field(await validatePurchase({ assetId: 4000, customerIp: "192.0.2.1", quantity: 1 }), "token"))
  const purchase = (overrides: Record<string, unknown>) => ({
    orderNumber: "2001",
    orderLineId: "1",
    unitPrice: 3.99,
    lineItemPrice: 3.99,
    customer: "Fanny Mendelssohn",
    ...overrides
  })

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
    expect(field(await validatePurchase({ assetId: 4001, customerIp: "192.0.2.1", quantity: 1 }), "reason")).toBe("QuantityBelowMinimum")
    expect(await validatePurchase({ assetId: 4000, customerIp: "not-an-ip", quantity: 1 })).toMatchObject({
      __typename: "InvalidInput",
      field: "customerIp"
    })
  })

  it("validatePurchase: HL Connect's 400 is BadRequest", async () => {
    await server.sandbox.run(
      server.sandbox.state.scriptFaults([
        { kind: "custom", endpoint: "validatePurchase", times: 1, status: 400, body: '{"message":"malformed request"}', retry_after_seconds: 0, delay_ms: 0 }
      ])
    )
    expect(await validatePurchase({ assetId: 4000, customerIp: "192.0.2.1", quantity: 1 })).toEqual({
      __typename: "BadRequest",
      message: "malformed request"
    })
  })

  it("registerPurchase: registered, already exists, already registered, refused", async () => {
    expect(await registerPurchase(purchase({ token: await token() }))).toEqual({ __typename: "Registered", orderNumber: "2001", orderLineId: "1" })
    expect(await registerPurchase(purchase({ token: await token() }))).toEqual({
      __typename: "OrderAlreadyExists",
      message: "order 2001 line 1 is already registered"
    })
    // The caller says an earlier attempt may have gone through: a 409 is then the wanted outcome.
    expect(await registerPurchase(purchase({ token: await token(), mayHaveBeenSentBefore: true }))).toEqual({
      __typename: "AlreadyRegistered",
      orderNumber: "2001",
      orderLineId: "1"
    })
    expect(await registerPurchase(purchase({ orderNumber: "2002", token: "never-issued" }))).toEqual({
      __typename: "ValidationRejected",
      message: "the validation token is unknown",
      reason: "InvalidToken"
    })
    expect(
      await registerPurchase(purchase({ orderNumber: "2002", token: await token(), parts: [{ assetId: 1, orderLineId: "2" }] }))
    ).toEqual({ __typename: "AssetNotFound", message: "asset 1 does not exist" })
    expect(await registerPurchase(purchase({ orderNumber: "web-1", token: await token() }))).toMatchObject({
      __typename: "InvalidInput",
      field: "orderNumber"
    })
    expect(await registerPurchase(purchase({ orderNumber: "2003", token: await token(), customer: "   " }))).toMatchObject({
      __typename: "InvalidInput",
      field: "customer"
    })
  })

  it("registerPurchase: an expired token is ValidationRejected TokenExpired", async () => {
    const expiring = await startServer({ sandbox: { validationTokenTtl: Duration.millis(1) } })
    try {
      const validated = await expiring.query(validate, { input: { assetId: 4000, customerIp: "192.0.2.1", quantity: 1 } })
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

  it("cancelOrderLine: cancelled, then an invalid status; unknown lines; bad ids", async () => {
    await registerAtSandbox(server, 3001, [{ lineId: 1 }])
    const cancelLine = async (orderNumber: string, orderLineId: string) => {
      const { body } = await server.query(cancel, { orderNumber, orderLineId })
      expect(body.errors).toBeUndefined()
      return field(body.data, "cancelOrderLine")
    }
    expect(await cancelLine("3001", "1")).toEqual({ __typename: "OrderLineCancelled", orderNumber: "3001", orderLineId: "1" })
    expect(await cancelLine("3001", "1")).toEqual({
      __typename: "InvalidOrderStatus",
      message: "order line 1 is CANCELLED and cannot be cancelled"
    })
    expect(await cancelLine("3001", "9")).toEqual({ __typename: "OrderNotFound", message: "no order line 9 in order 3001" })
    expect(await cancelLine("3001", "first")).toMatchObject({ __typename: "InvalidInput", field: "orderLineId" })
  })
})
