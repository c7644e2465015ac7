/**
 * The ingest pre-check against the schemas it stands in front of: whatever it recognises, the
 * `CommerceEvent` schema must accept with the same type; and it must recognise the ordinary
 * event (else the fast path would silently stop being used).
 */
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeJson } from "../src/CommerceEvents.js"
import { surelyAccepted } from "../src/EventPrecheck.js"

// Each leaf mostly valid, sometimes borderline or wrong, so most events are one slip from valid
// and the two judges meet on every edge.
const mostly = <A, B>(valid: fc.Arbitrary<A>, wrong: fc.Arbitrary<B>) =>
  fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: wrong })

const id = mostly(
  fc.oneof(
    fc.integer({ min: 1, max: 40 }),
    fc.integer({ min: 1, max: 40 }).map(String),
    fc.constant(Number.MAX_SAFE_INTEGER)
  ),
  fc.constantFrom(
    0,
    -1,
    1.5,
    2 ** 53,
    "0",
    "01",
    " 7 ",
    "7 ",
    "12345678901234567",
    "9007199254740993",
    "abc",
    "",
    null,
    true
  )
)
const price = mostly(
  fc.constantFrom("3.99", "0", "0.5", "12", "1.10", 3.99, 0, 12, 0.1 + 0.2, 1.5),
  fc.constantFrom("3.999", "-1", "1e2", "", " 3.99", 3.999, -1, 1e13, null, "abc")
)
const quantity = mostly(fc.integer({ min: 1, max: 3 }), fc.constantFrom(0, 100_000, 100_001, 1.5, "1", -2, null))
// Text the `Text` rule refuses or rewrites: lone surrogates, controls (C0, DEL, C1), line breaks, NFD, surrounding spaces.
const oddText = fc.constantFrom(
  "a\u0000b",
  "Ann \ud83c",
  "\udc00x",
  "a\u007f",
  "a\u009b",
  "a\u0085b",
  "a\u2028b",
  "a\tb",
  "a\nb",
  "Zoe\u0308",
  " x",
  "x ",
  " ",
  "\u00a0x"
)
const text = (max: number) =>
  mostly(
    fc.string({ minLength: 1, maxLength: 12 }),
    fc.oneof(
      fc.constantFrom("", "x".repeat(max), "x".repeat(max + 1), 5, null),
      oddText,
      fc.string({ unit: "binary", minLength: 1, maxLength: 6 })
    )
  )
const email = mostly(
  fc.constantFrom("a@b", "buyer@example.com"),
  fc.constantFrom("a b@c", "@b", "a@", "", 5, `${"x".repeat(330)}@b`, " a@b", "a@b\u0000", "zoe\u0308@b", "a@\ud800")
)
const optional = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: undefined })

const part = mostly(fc.record({ asset_id: id, order_line_id: id }), fc.constantFrom({ asset_id: 1 }, null, "x"))

const matchingLinePrice = (unit: unknown, qty: unknown): unknown => {
  const cents = typeof unit === "string" ? Number(unit) * 100 : typeof unit === "number" ? unit * 100 : Number.NaN
  return typeof qty === "number" && Number.isFinite(cents) ? ((Math.round(cents) * qty) / 100).toFixed(2) : unit
}

const line = mostly(
  fc
    .record(
      {
        order_line_id: id,
        asset_id: id,
        quantity,
        unit_price: price,
        validation_token: text(4096),
        token_expires_at: optional(mostly(fc.constant(1_700_000_000), fc.constantFrom(0, -5, 1.5, "1"))),
        parts: optional(
          mostly(
            fc.array(part, { maxLength: 3 }),
            fc.constantFrom(
              "x",
              Array.from({ length: 65 }, (_, i) => ({ asset_id: 1, order_line_id: 100 + i }))
            )
          )
        )
      },
      { requiredKeys: ["order_line_id", "asset_id", "quantity", "unit_price", "validation_token"] }
    )
    // Mostly a line price that adds up, sometimes one that does not.
    .chain((l) =>
      mostly(fc.constant(matchingLinePrice(l.unit_price, l.quantity)), price).map((line_price) => ({
        ...l,
        line_price
      }))
    ),
  fc.constantFrom(null, "x", {})
)

const paidData = fc.record(
  {
    order_number: id,
    customer: mostly(fc.record({ name: text(200), email }), fc.constantFrom(null, { name: "Ada" })),
    currency: optional(mostly(fc.constantFrom("USD", "EUR"), fc.constantFrom("usd", "US", 5))),
    lines: mostly(
      fc.array(line, { minLength: 1, maxLength: 3 }),
      fc.constantFrom(
        [],
        "x",
        Array.from({ length: 101 }, () => ({}))
      )
    )
  },
  { requiredKeys: ["order_number", "customer", "lines"] }
)
const lineIds = mostly(
  fc.array(id, { minLength: 1, maxLength: 4 }),
  fc.constantFrom(
    [],
    Array.from({ length: 101 }, (_, i) => i + 1),
    null
  )
)
const refundData = fc.record({ order_number: id, order_line_ids: lineIds }, { requiredKeys: ["order_number"] })

const envelope = fc.oneof(
  fc.record(
    {
      type: fc.constant("order.paid"),
      timestamp: optional(mostly(fc.constant("2026-11-29T00:00:00Z"), fc.constant(5))),
      data: paidData
    },
    { requiredKeys: ["type", "data"] }
  ),
  fc.record({ type: fc.constantFrom("order.refunded", "order.line_cancelled"), data: refundData }),
  fc.record({
    type: fc.constantFrom("order.unknown", 5, "order.paid"),
    data: mostly(refundData, fc.constantFrom(null, [])),
    extra: fc.constant({ ignored: true })
  })
)

describe("EventPrecheck.surelyAccepted", () => {
  it("recognises only what the schemas accept, as the same type", () => {
    const recognised = new Map<string, number>()
    fc.assert(
      fc.property(envelope, (json) => {
        const type = surelyAccepted(json)
        if (type === undefined) return
        recognised.set(type, (recognised.get(type) ?? 0) + 1)
        const decoded = decodeJson(json)
        expect(Either.isRight(decoded) ? decoded.right.type : decoded.left.message).toBe(type)
      }),
      { numRuns: 20_000 }
    )
    // The generator reaches the accepting side often enough for the property to mean something.
    for (const type of ["order.paid", "order.refunded", "order.line_cancelled"])
      expect(recognised.get(type) ?? 0).toBeGreaterThan(500)
  })

  it("recognises the ordinary event of each type", () => {
    const paid = {
      type: "order.paid",
      data: {
        order_number: 1234567,
        customer: { name: "Ada", email: "ada@example.com" },
        currency: "USD",
        lines: [
          {
            order_line_id: 1,
            asset_id: "4000",
            quantity: 2,
            unit_price: "3.99",
            line_price: "7.98",
            validation_token: "tok",
            token_expires_at: 1_800_000_000
          },
          {
            order_line_id: "2",
            asset_id: 4001,
            quantity: 1,
            unit_price: 1.5,
            line_price: 1.5,
            validation_token: "tok",
            parts: [{ asset_id: 4002, order_line_id: 3 }]
          }
        ]
      }
    }
    expect(surelyAccepted(paid)).toBe("order.paid")
    expect(surelyAccepted({ type: "order.refunded", data: { order_number: "7" } })).toBe("order.refunded")
    expect(
      surelyAccepted({
        type: "order.line_cancelled",
        timestamp: "2026-11-29T00:00:00Z",
        data: { order_number: 7, order_line_ids: [1, "2"] }
      })
    ).toBe("order.line_cancelled")
  })

  it("leaves the unusual and the wrong to the schemas", () => {
    const base = { order_number: 7, customer: { name: "Ada", email: "ada@example.com" } }
    const line = {
      order_line_id: 1,
      asset_id: 2,
      quantity: 1,
      unit_price: "1.00",
      line_price: "1.00",
      validation_token: "t"
    }
    // Valid (the schema trims ids) but unusual: not recognised, so the schema decides.
    expect(
      surelyAccepted({ type: "order.paid", data: { ...base, order_number: " 7 ", lines: [line] } })
    ).toBeUndefined()
    expect(
      Either.isRight(decodeJson({ type: "order.paid", data: { ...base, order_number: " 7 ", lines: [line] } }))
    ).toBe(true)
    // Wrong: a repeated line id across a line and a part, a price that does not add up.
    expect(
      surelyAccepted({
        type: "order.paid",
        data: { ...base, lines: [{ ...line, parts: [{ asset_id: 3, order_line_id: 1 }] }] }
      })
    ).toBeUndefined()
    expect(surelyAccepted({ type: "order.paid", data: { ...base, lines: [{ ...line, quantity: 2 }] } })).toBeUndefined()
    // Text that is not plain printable ASCII: the schemas refuse it (NUL, lone surrogate) or rewrite it (NFD, spaces).
    for (const name of ["a\u0000b", "Ann \ud83c", "Zoe\u0308", " Ada "]) {
      expect(
        surelyAccepted({ type: "order.paid", data: { ...base, customer: { ...base.customer, name }, lines: [line] } })
      ).toBeUndefined()
    }
    expect(
      surelyAccepted({ type: "order.paid", data: { ...base, lines: [{ ...line, validation_token: "t\u0085" }] } })
    ).toBeUndefined()
  })
})
