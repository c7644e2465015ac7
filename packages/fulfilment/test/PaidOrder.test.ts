import { OrderLines } from "@hlconnect/store"
import { assert, describe, it } from "@effect/vitest"
import { Either, Option, Redacted, Schema } from "effect"
import { awaitsNewToken } from "../src/Fulfilment.js"
import * as PaidOrder from "../src/PaidOrder.js"

const order: PaidOrder.PaidOrder = {
  order_number: "12345",
  customer: { name: "Clara Schumann", email: "clara@example.com" },
  currency: "EUR",
  lines: [
    {
      order_line_id: "1",
      asset_id: "4000",
      quantity: 2,
      unit_price: 399,
      line_price: 798,
      validation_token: "tok-1",
      token_expires_at: 1_800_000_000,
      parts: [{ asset_id: "4001", order_line_id: "2" }]
    }
  ]
}

/** The line as the store would hold it after `create` of the mapped input. */
const stored = (
  input: OrderLines.NewOrderLine,
  extra: Partial<ConstructorParameters<typeof OrderLines.OrderLine>[0]> = {}
) =>
  OrderLines.OrderLine.make({
    orderNumber: input.orderNumber,
    orderLineId: input.orderLineId,
    asset: input.asset,
    quantity: input.quantity,
    unitPriceMinor: input.unitPriceMinor,
    totalPriceMinor: input.totalPriceMinor,
    currency: input.currency,
    customerEmail: input.customerEmail,
    customerName: Option.fromNullable(input.customerName),
    validationToken: Option.fromNullable(input.validationToken),
    tokenExpiresAt: Option.fromNullable(input.tokenExpiresAt),
    state: "paid",
    attentionReason: Option.none(),
    attempts: 0,
    nextCheckAt: Option.fromNullable(input.nextCheckAt),
    lastError: Option.none(),
    remoteSnapshot: Option.none(),
    parts: Option.fromNullable(input.parts),
    version: 1,
    createdAt: 0,
    updatedAt: 0,
    ...extra
  })

describe("PaidOrder", () => {
  it("maps a paid line to the store's input: minor units, token redacted, expiry in millis, parts", () => {
    const [line] = PaidOrder.newOrderLines(order, { nextCheckAt: 42 })
    assert.isDefined(line)
    if (line === undefined) return
    const { validationToken, ...rest } = line
    assert.deepStrictEqual(rest, {
      orderNumber: "12345",
      orderLineId: "1",
      asset: "4000",
      quantity: 2,
      unitPriceMinor: 399,
      totalPriceMinor: 798,
      currency: "EUR",
      customerEmail: "clara@example.com",
      customerName: "Clara Schumann",
      tokenExpiresAt: 1_800_000_000_000,
      parts: [{ asset: "4001", orderLineId: "2" }],
      nextCheckAt: 42
    })
    assert.isTrue(validationToken !== undefined && Redacted.value(validationToken) === "tok-1")
    assert.notInclude(String(validationToken), "tok-1", "the token prints redacted")
  })

  it("tells the same purchase (any token) from a different one, by field", () => {
    const [wanted] = PaidOrder.newOrderLines(order, { nextCheckAt: 42 })
    if (wanted === undefined) return assert.fail("one line expected")
    const same = stored(wanted, { validationToken: Option.some(Redacted.make("another-token")) })
    assert.deepStrictEqual(PaidOrder.contentDifferences(same, wanted), [])
    assert.isFalse(PaidOrder.holdsToken(same, wanted.validationToken))
    assert.isTrue(PaidOrder.holdsToken(stored(wanted), wanted.validationToken))

    const other = stored(wanted, {
      unitPriceMinor: 400,
      customerName: Option.none(),
      parts: Option.some([{ asset: "4001", orderLineId: "3" }])
    })
    assert.deepStrictEqual(PaidOrder.contentDifferences(other, wanted), ["unitPriceMinor", "customerName", "parts"])
  })

  it("decodes decimal prices to minor units, refusing a third decimal or a negative amount", () => {
    const decode = Schema.decodeUnknownEither(PaidOrder.MinorUnitsFromMajor)
    assert.deepStrictEqual(decode(3.99), Either.right(399))
    assert.deepStrictEqual(decode(0.1 + 0.2), Either.right(30))
    assert.deepStrictEqual(decode(0), Either.right(0))
    assert.isTrue(Either.isLeft(decode(3.999)))
    assert.isTrue(Either.isLeft(decode(-1)))
    assert.isTrue(Either.isLeft(decode(Number.NaN)))
  })

  it("one price rule both ways: decimal strings read exactly, numbers as above, minor units back to major", () => {
    const decode = Schema.decodeUnknownEither(PaidOrder.MinorUnitsFromDecimal)
    assert.deepStrictEqual(decode("3.99"), Either.right(399))
    assert.deepStrictEqual(decode(" 12.5 "), Either.right(1250))
    assert.deepStrictEqual(decode(3.99), Either.right(399))
    assert.isTrue(Either.isLeft(decode("3.999")))
    assert.isTrue(Either.isLeft(decode("-1")))
    assert.isTrue(Either.isLeft(decode("1e3")))
    assert.strictEqual(PaidOrder.majorFromMinor(399), 3.99)
    assert.deepStrictEqual(Schema.encodeSync(PaidOrder.MinorUnitsFromDecimal)(1250), 12.5)
    assert.strictEqual(PaidOrder.minorFromMajor(PaidOrder.majorFromMinor(123_456_789)), 123_456_789)
  })

  it("knows which parked lines a new validation token unblocks", () => {
    const [wanted] = PaidOrder.newOrderLines(order, { nextCheckAt: 42 })
    if (wanted === undefined) return assert.fail("one line expected")
    const parked = (reason: string) =>
      stored(wanted, { state: "needs_attention", attentionReason: Option.some(reason) })
    assert.isTrue(awaitsNewToken(parked("validation token expired: validate the purchase again (expired)")))
    assert.isTrue(awaitsNewToken(parked("HL Connect refused the registration: the validation token is unknown")))
    assert.isFalse(awaitsNewToken(parked("HL Connect does not know the asset: asset 1 does not exist")))
    assert.isFalse(awaitsNewToken(parked("completed locally, but HL Connect says CANCELLED")))
    assert.isFalse(awaitsNewToken(stored(wanted)), "a paid line is not parked")
  })
})
