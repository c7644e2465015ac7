import { assert, describe, it } from "@effect/vitest"
import { Duration, Either, Redacted, Schema } from "effect"
import { OrderProcessingFailedWire, UnauthorizedWire, ValidationRejectedWire } from "../src/Api.js"
import { resolvePolicy } from "../src/ClientConfig.js"
import { ValidationRejected } from "../src/Errors.js"
import {
  AssetsListResponse,
  DownloadUrl,
  OrderItem,
  PurchaseRegisterRequest,
  PurchaseValidateBeforePaymentRequest,
  ValidationToken,
  ViewUrl
} from "../src/Models.js"
import { DefaultRetryPolicies } from "../src/RetryPolicy.js"

const decode = <A, I>(schema: Schema.Schema<A, I>) => Schema.decodeUnknownEither(schema)

describe("wire models", () => {
  it("OrderItem keeps status values nobody documented, and null URLs", () => {
    const item = decode(OrderItem)({ order_id: 1, status: "ON_HOLD", download_url: null, view_url: null, extra: 1 })
    assert.isTrue(Either.isRight(item))
    if (Either.isRight(item)) {
      assert.strictEqual(item.right.status, "ON_HOLD")
      assert.isNull(item.right.download_url)
    }
    assert.isTrue(Either.isRight(decode(OrderItem)({})), "every OrderItem field is optional")
    assert.isTrue(Either.isLeft(decode(OrderItem)({ order_id: "1" })), "but typed when present")
  })

  it("DownloadUrl requires url; ViewUrl does not", () => {
    assert.isTrue(Either.isLeft(decode(DownloadUrl)({})))
    assert.isTrue(Either.isRight(decode(ViewUrl)({})))
  })

  it("ValidationToken requires token and an integer exp_date", () => {
    assert.isTrue(Either.isRight(decode(ValidationToken)({ token: "dGVzdF90b2tlbg==", exp_date: 1770888606 })))
    assert.isTrue(Either.isLeft(decode(ValidationToken)({ token: "t" })))
    assert.isTrue(Either.isLeft(decode(ValidationToken)({ token: "t", exp_date: 1.5 })))
  })

  it("AssetsListResponse: assets required, last_id and next_page nullable", () => {
    assert.isTrue(Either.isRight(decode(AssetsListResponse)({ assets: [], last_id: null, next_page: null })))
    assert.isTrue(Either.isLeft(decode(AssetsListResponse)({ last_id: null, next_page: null })))
  })

  it("requests reject what HL Connect would refuse, naming the field", () => {
    const bad = decode(PurchaseValidateBeforePaymentRequest)({ asset_id: 4000, customer_ip: "not-an-ip", quantity: 1 })
    assert.isTrue(Either.isLeft(bad))
    if (Either.isLeft(bad)) assert.include(String(bad.left), "customer_ip")
    assert.isTrue(
      Either.isLeft(
        decode(PurchaseValidateBeforePaymentRequest)({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 0 })
      )
    )
    assert.isTrue(
      Either.isRight(
        decode(PurchaseValidateBeforePaymentRequest)({ asset_id: 4000, customer_ip: "2001:db8::1", quantity: 1 })
      )
    )
    const register = {
      token: "t",
      order_number: 12345,
      order_line_id: 1,
      line_item_price: 3.99,
      unit_price: 3.99,
      customer: "  John Customer  "
    }
    const ok = decode(PurchaseRegisterRequest)(register)
    assert.isTrue(Either.isRight(ok))
    if (Either.isRight(ok)) assert.strictEqual(ok.right.customer, "John Customer", "customer is trimmed")
    assert.isTrue(Either.isLeft(decode(PurchaseRegisterRequest)({ ...register, customer: "   " })))
    assert.isTrue(Either.isLeft(decode(PurchaseRegisterRequest)({ ...register, unit_price: -1 })))
    assert.isTrue(Either.isLeft(decode(PurchaseRegisterRequest)({ ...register, parts: [{ asset_id: 4004 }] })))
  })
})

describe("errors on the wire", () => {
  it("decode HL Connect's plain ErrorResponse into the tagged error, with the server's message", () => {
    const e = decode(ValidationRejectedWire)({
      name: "QuantityBelowMinimum",
      message: "at least 10",
      code: 422,
      status: 422
    })
    assert.isTrue(Either.isRight(e))
    if (Either.isRight(e)) {
      assert.instanceOf(e.right, ValidationRejected)
      assert.strictEqual(e.right.message, "at least 10")
      assert.strictEqual(e.right.reason, "QuantityBelowMinimum")
    }
    const empty = decode(UnauthorizedWire)({})
    assert.isTrue(Either.isRight(empty) && empty.right.message.length > 0, "a body without message still decodes")
  })

  it("encode back to the wire shape, without _tag", () => {
    const wire = Schema.encodeSync(ValidationRejectedWire)(
      new ValidationRejected({ message: "no", reason: "TokenExpired" })
    )
    assert.deepStrictEqual({ ...wire }, { name: "TokenExpired", message: "no", code: 422, status: 422 })
    const failed = Schema.encodeSync(OrderProcessingFailedWire)(
      Schema.decodeSync(OrderProcessingFailedWire)({ status: "FAILED" })
    )
    assert.deepStrictEqual({ ...failed }, { status: "FAILED" })
  })
})

describe("client options", () => {
  const base = { accessToken: Redacted.make("t") }
  it("global overrides apply to every endpoint, per-endpoint ones win", () => {
    const p = resolvePolicy(
      DefaultRetryPolicies.registerPurchase,
      { ...base, maxAttempts: 2, attemptTimeout: "1 second" },
      "registerPurchase"
    )
    assert.strictEqual(p.maxAttempts, 2)
    assert.strictEqual(Duration.toMillis(p.attemptTimeout), 1000)
    const q = resolvePolicy(
      DefaultRetryPolicies.health,
      { ...base, maxAttempts: 2, retryPolicies: { health: { maxAttempts: 7 } } },
      "health"
    )
    assert.strictEqual(q.maxAttempts, 7)
    assert.deepStrictEqual(q.maxDelay, DefaultRetryPolicies.health.maxDelay)
  })
})
