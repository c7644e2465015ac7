/**
 * `makePromiseClient`: plain async functions resolving to `{ ok, value }` / `{ ok, error }`.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { makePromiseClient } from "@hlconnect/core"
import { Redacted } from "effect"
import { type RunningSandbox, SandboxToken, startSandbox } from "@hlconnect/sandbox"
import { orderNumber } from "./helpers.js"

let sandbox: RunningSandbox
beforeAll(async () => {
  sandbox = await startSandbox()
})
afterAll(() => sandbox.close())

describe("makePromiseClient", () => {
  it("ok results, error results with _tag, and close()", async () => {
    const hl = makePromiseClient({ baseUrl: sandbox.url, accessToken: Redacted.make(SandboxToken), maxAttempts: 1 })
    const health = await hl.health()
    assert.isTrue(health.ok)
    if (health.ok)
      assert.deepStrictEqual(
        health.value.map((h) => h.name),
        ["api", "dam"]
      )

    const token = await hl.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 })
    assert.isTrue(token.ok)
    if (!token.ok) return
    const order = orderNumber()
    const registered = await hl.registerPurchase({
      token: token.value.token,
      order_number: order,
      order_line_id: 1,
      unit_price: 3.99,
      line_item_price: 3.99,
      customer: "John Customer"
    })
    assert.deepStrictEqual(registered.ok ? registered.value._tag : registered.error._tag, "Registered")
    const info = await hl.purchaseInfo({ order_id: order })
    assert.isTrue(info.ok)
    if (info.ok) assert.strictEqual(info.value._tag, "Processing")

    const missing = await hl.purchaseInfo({ order_id: orderNumber() })
    assert.isFalse(missing.ok)
    if (!missing.ok) {
      assert.strictEqual(missing.error._tag, "OrderNotFound")
      assert.include(missing.error.message, "no orders for order_id")
    }
    const rejected = await hl.validatePurchase({ asset_id: 4002, customer_ip: "198.51.100.1", quantity: 1 })
    assert.isFalse(rejected.ok)
    if (!rejected.ok && rejected.error._tag === "ValidationRejected")
      assert.strictEqual(rejected.error.reason, "NotSellableInCountry")
    else assert.fail("expected ValidationRejected")
    const invalid = await hl.cancelOrderLine({ order_id: 0, order_line_id: 1 })
    assert.isFalse(invalid.ok)
    if (!invalid.ok)
      assert.deepStrictEqual(
        [invalid.error._tag, invalid.error._tag === "InvalidRequest" ? invalid.error.field : ""],
        ["InvalidRequest", "order_id"]
      )
    const page = await hl.listAssets({ page_size: 3 })
    assert.strictEqual(page.ok ? page.value.assets.length : 0, 3)

    const started = Date.now()
    await hl.close()
    assert.isBelow(Date.now() - started, 2_000, "close() waits on nothing")
  })

  it("an expected failure never rejects: 401 resolves to an Unauthorized result", async () => {
    const hl = makePromiseClient({ baseUrl: sandbox.url, accessToken: Redacted.make("wrong"), maxAttempts: 1 })
    try {
      const result = await hl.listAssets({})
      assert.isFalse(result.ok)
      if (!result.ok) assert.strictEqual(result.error._tag, "Unauthorized")
      const unavailable = makePromiseClient({
        baseUrl: "http://127.0.0.1:9",
        accessToken: Redacted.make("x"),
        maxAttempts: 2
      })
      const refused = await unavailable.health()
      await unavailable.close()
      assert.isFalse(refused.ok)
      if (!refused.ok && refused.error._tag === "HlConnectUnavailable") {
        assert.strictEqual(refused.error.lastCause._tag, "ConnectionFailed")
        assert.strictEqual(refused.error.attempts, 2)
      } else assert.fail("expected HlConnectUnavailable")
    } finally {
      await hl.close()
    }
  })

  it("takes the token as a plain string (no effect import), kept out of errors and their printing", async () => {
    const hl = makePromiseClient({ baseUrl: sandbox.url, accessToken: SandboxToken, maxAttempts: 1 })
    const wrongToken = "plain-wrong-token-4b7e19"
    const wrong = makePromiseClient({ baseUrl: sandbox.url, accessToken: wrongToken, maxAttempts: 1 })
    try {
      const page = await hl.listAssets({ page_size: 1 })
      assert.isTrue(page.ok)
      const refused = await wrong.listAssets({ page_size: 1 })
      assert.isFalse(refused.ok)
      if (refused.ok) return
      assert.strictEqual(refused.error._tag, "Unauthorized")
      const printed = [String(refused.error), JSON.stringify(refused.error), JSON.stringify(refused)].join("\n")
      assert.notInclude(printed, wrongToken)
    } finally {
      await hl.close()
      await wrong.close()
    }
  })
})
