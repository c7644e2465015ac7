/**
 * The sandbox's memory of issued download/view URLs, on a TestClock: valid URLs stay valid, expired
 * ones answer "expired" until more than 10 000 are held, and then the next issue forgets them.
 */
import { describe, expect, it } from "@effect/vitest"
import { PurchaseRegisterRequest, PurchaseValidateBeforePaymentRequest } from "@hlconnect/core"
import { Duration, Effect, Schema, TestClock } from "effect"
import { defaultSandboxOptions } from "../src/SandboxConfig.js"
import { SandboxState } from "../src/SandboxState.js"

const base = "http://sandbox.test"
const ttl = Duration.minutes(30)
const orderId = 810_001

const withState = SandboxState.Default({ ...defaultSandboxOptions, fulfilmentDelay: Duration.zero, urlTtl: ttl })

/** Registers one fulfilled order line to issue URLs for. */
const registerOrder = Effect.gen(function* () {
  const state = yield* SandboxState
  const validate = yield* Schema.decodeUnknown(PurchaseValidateBeforePaymentRequest)({
    asset_id: 4000,
    customer_ip: "192.0.2.7",
    quantity: 1
  })
  const { token } = yield* state.validatePurchase(validate)
  const register = yield* Schema.decodeUnknown(PurchaseRegisterRequest)({
    token,
    order_number: orderId,
    order_line_id: 1,
    unit_price: 3.99,
    line_item_price: 3.99,
    customer: "URL Customer"
  })
  yield* state.registerPurchase(register)
})

/** Issues `count` download URLs and returns their ids. */
const issue = (count: number) =>
  Effect.gen(function* () {
    const state = yield* SandboxState
    const ids: Array<string> = []
    for (let i = 0; i < count; i++) {
      const { url } = yield* state.downloadUrl(orderId, 1, base)
      ids.push(url.slice(url.lastIndexOf("/") + 1))
    }
    return ids
  })

const validities = (ids: ReadonlyArray<string>) =>
  Effect.flatMap(SandboxState, (state) => Effect.forEach(ids, (id) => state.resolveUrl("download", id)))

const only = (values: ReadonlyArray<string>) => [...new Set(values)]

describe("issued URLs", () => {
  it.effect("stay valid for their TTL, then answer expired while few are held", () =>
    Effect.gen(function* () {
      yield* registerOrder
      const ids = yield* issue(100)
      expect(only(yield* validities(ids))).toEqual(["valid"])
      yield* TestClock.adjust(Duration.sum(ttl, Duration.millis(1)))
      yield* issue(1)
      expect(only(yield* validities(ids))).toEqual(["expired"])
    }).pipe(Effect.provide(withState))
  )

  it.effect("once more than 10 000 are held, the next issue forgets the expired ones and keeps the valid ones", () =>
    Effect.gen(function* () {
      yield* registerOrder
      const old = yield* issue(6_000)
      yield* TestClock.adjust(Duration.minutes(20))
      const recent = yield* issue(4_000)
      yield* TestClock.adjust(Duration.minutes(11))
      // 10 000 held: nothing forgotten yet, the old ones are expired, the recent ones valid.
      expect(only(yield* validities(old))).toEqual(["expired"])
      expect(only(yield* validities(recent))).toEqual(["valid"])
      const more = yield* issue(2)
      expect(only(yield* validities(old))).toEqual(["unknown"])
      expect(only(yield* validities(recent))).toEqual(["valid"])
      expect(only(yield* validities(more))).toEqual(["valid"])
    }).pipe(Effect.provide(withState))
  )

  it.effect("keeps every valid URL however many are held, and none past its TTL", () =>
    Effect.gen(function* () {
      yield* registerOrder
      const ids = yield* issue(25_000)
      expect(only(yield* validities(ids))).toEqual(["valid"])
      yield* TestClock.adjust(Duration.sum(ttl, Duration.millis(1)))
      const after = yield* issue(1)
      expect((yield* validities(ids)).filter((validity) => validity === "valid")).toEqual([])
      expect(only(yield* validities(after))).toEqual(["valid"])
    }).pipe(Effect.provide(withState))
  )
})
