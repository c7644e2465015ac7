/**
 * Idempotent registration: a 409 after an attempt that may have reached HL Connect is our own
 * registration (`AlreadyRegistered`); a 409 on a clean first attempt is someone else's order.
 */
import { afterAll, assert, beforeAll, beforeEach, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type RunningSandbox, startSandbox } from "@hlconnect/sandbox"
import { assertTag, failsWith, fastRetries, script, stats, validatedRegistration, withClient } from "./helpers.js"

let sandbox: RunningSandbox
beforeAll(async () => {
  sandbox = await startSandbox()
})
afterAll(() => sandbox.close())
beforeEach(() => sandbox.run(sandbox.state.resetFaultsAndStats))

describe("registerPurchase is idempotent", () => {
  it.live("answer lost (resetAfter): the retry's 409 is AlreadyRegistered, and the line exists once", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* script(sandbox, { kind: "resetAfter", endpoint: "registerPurchase" })
        const outcome = yield* client.registerPurchase(request)
        assert.strictEqual(outcome._tag, "AlreadyRegistered")
        const s = yield* stats(sandbox)
        assert.strictEqual(s.requests.registerPurchase, 2)
        assert.strictEqual(s.responses["registerPurchase 409"], 1)
        assert.deepStrictEqual(s.registrations, { [`${request.order_number}:1`]: 1 })
      })
    )
  )

  it.live("answer lost with parts: every line exists once", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const base = yield* validatedRegistration(client, { asset_id: 4003, unit_price: 12.5 })
        const request = {
          ...base,
          parts: [
            { asset_id: 4004, order_line_id: 2 },
            { asset_id: 4005, order_line_id: 3 }
          ]
        }
        yield* script(sandbox, { kind: "resetAfter", endpoint: "registerPurchase" })
        assert.strictEqual((yield* client.registerPurchase(request))._tag, "AlreadyRegistered")
        const s = yield* stats(sandbox)
        assert.deepStrictEqual(s.registrations, {
          [`${request.order_number}:1`]: 1,
          [`${request.order_number}:2`]: 1,
          [`${request.order_number}:3`]: 1
        })
      })
    )
  )

  it.live("a 500 after which the request may have been handled: a 409 next is AlreadyRegistered", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* client.registerPurchase(request)
        // The earlier registration stands in for one whose 500 hid that it had been taken.
        yield* script(sandbox, { kind: "error500", endpoint: "registerPurchase" })
        assert.strictEqual((yield* client.registerPurchase(request))._tag, "AlreadyRegistered")
      })
    )
  )

  it.live("409 on the very first attempt is OrderAlreadyExists", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        assert.strictEqual((yield* client.registerPurchase(request))._tag, "Registered")
        const again = yield* validatedRegistration(client)
        const error = yield* failsWith(
          client.registerPurchase({ ...again, order_number: request.order_number }),
          "OrderAlreadyExists"
        )
        assert.include(error.message, "already registered")
        assert.strictEqual((yield* stats(sandbox)).requests.registerPurchase, 2)
      })
    )
  )

  it.live("429 first (never reached HL Connect), then 409: OrderAlreadyExists", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* client.registerPurchase(request)
        yield* script(sandbox, { kind: "rateLimit429", endpoint: "registerPurchase", retry_after_seconds: 0 })
        yield* failsWith(client.registerPurchase(request), "OrderAlreadyExists")
        const s = yield* stats(sandbox)
        assert.strictEqual(s.responses["registerPurchase 429"], 1)
        assert.strictEqual(s.responses["registerPurchase 409"], 1)
      })
    )
  )

  it.live("503 first (a gateway may have given up while HL Connect registered it), then 409: AlreadyRegistered", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* client.registerPurchase(request)
        yield* script(sandbox, { kind: "unavailable503", endpoint: "registerPurchase", retry_after_seconds: 0 })
        assert.strictEqual((yield* client.registerPurchase(request))._tag, "AlreadyRegistered")
      })
    )
  )

  it.live("mayHaveBeenSentBefore: a 409 is AlreadyRegistered; a fresh order is still Registered", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* client.registerPurchase(request)
        const outcome = yield* client.registerPurchase(request, { mayHaveBeenSentBefore: true })
        assert.strictEqual(outcome._tag, "AlreadyRegistered")
        const fresh = yield* validatedRegistration(client)
        assert.strictEqual((yield* client.registerPurchase(fresh, { mayHaveBeenSentBefore: true }))._tag, "Registered")
        assert.deepStrictEqual((yield* stats(sandbox)).registrations, {
          [`${request.order_number}:1`]: 1,
          [`${fresh.order_number}:1`]: 1
        })
      })
    )
  )

  it.live("a lost answer does not turn other refusals into success: 422 after a reset stays ValidationRejected", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* script(sandbox, { kind: "resetBefore", endpoint: "registerPurchase" })
        const error = yield* failsWith(
          client.registerPurchase({ ...request, line_item_price: 99 }),
          "ValidationRejected"
        )
        assert.strictEqual(error.reason, "PriceMismatch")
        assert.deepStrictEqual((yield* stats(sandbox)).registrations, {})
      })
    )
  )

  it.live("resetAfter on every attempt: HlConnectUnavailable, yet the line exists exactly once", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* script(sandbox, { kind: "resetAfter", endpoint: "registerPurchase", times: 10 })
        const error = yield* failsWith(client.registerPurchase(request), "HlConnectUnavailable")
        assert.strictEqual(error.attempts, 3)
        assertTag(error.lastCause, "ConnectionFailed")
        assert.isTrue(error.lastCause.mayHaveReachedServer)
        assert.deepStrictEqual((yield* stats(sandbox)).registrations, { [`${request.order_number}:1`]: 1 })
      })
    )
  )
})
