/**
 * Retries and their limits: what is retried (500, empty 500, gateway 502/504/408, resets,
 * timeouts, 429/503 after Retry-After), what never is (info's own 502 verdict, 4xx), and the caps
 * (attempts, time). The full fault × endpoint table is `transient.test.ts`.
 */
import { afterAll, assert, beforeAll, beforeEach, describe, it } from "@effect/vitest"
import type { PurchaseInfoError, ValidatePurchaseError } from "@hlconnect/core"
import { FaultSettings } from "@hlconnect/sandbox"
import { Duration, Effect, Fiber, TestClock } from "effect"
import { type RunningSandbox, startSandbox } from "@hlconnect/sandbox"
import {
  assertTag,
  eventually,
  failsWith,
  fastRetries,
  liveSleep,
  requestsTo,
  reset,
  script,
  setFaults,
  stats,
  validatedRegistration,
  withClient
} from "./helpers.js"

let sandbox: RunningSandbox
beforeAll(async () => {
  sandbox = await startSandbox({ fulfilmentDelay: Duration.zero })
})
afterAll(() => sandbox.close())
beforeEach(() => sandbox.run(sandbox.state.resetFaultsAndStats))

const validate = { asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 } as const

describe("transient failures are retried", () => {
  it.live("500 then success: two attempts, one answer", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        yield* script(sandbox, { kind: "error500", endpoint: "validatePurchase" })
        yield* client.validatePurchase(validate)
        const s = yield* stats(sandbox)
        assert.strictEqual(s.requests.validatePurchase, 2)
        assert.strictEqual(s.responses["validatePurchase 500"], 1)
        assert.strictEqual(s.responses["validatePurchase 200"], 1)
      })
    )
  )

  it.live("one call, run twice: each run has its own attempts (a call is a value; its state is per run)", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        yield* script(sandbox, { kind: "error500", endpoint: "listAssets", times: 100 })
        const call = client.listAssets({})
        const first = yield* failsWith(call, "HlConnectUnavailable")
        const second = yield* failsWith(call, "HlConnectUnavailable")
        assert.deepStrictEqual([first.attempts, second.attempts], [3, 3])
        assert.strictEqual(yield* requestsTo(sandbox, "listAssets"), 6)
      })
    )
  )

  it.live("500 every time: HlConnectUnavailable after exactly maxAttempts, lastCause ServerError", () =>
    withClient(sandbox, fastRetries(4), (client) =>
      Effect.gen(function* () {
        yield* script(sandbox, { kind: "error500", endpoint: "listAssets", times: 100 })
        const error = yield* failsWith(client.listAssets({}), "HlConnectUnavailable")
        assert.strictEqual(error.attempts, 4)
        assert.strictEqual(error.endpoint, "listAssets")
        assertTag(error.lastCause, "ServerError")
        assert.strictEqual(error.lastCause.status, 500)
        assert.include(error.message, "after 4 attempt(s)")
        assert.strictEqual(yield* requestsTo(sandbox, "listAssets"), 4)
      })
    )
  )

  it.live("a per-endpoint maxAttempts overrides the global one", () =>
    withClient(
      sandbox,
      { ...fastRetries(5), retryPolicies: { health: { maxAttempts: 2, baseDelay: Duration.millis(5) } } },
      (client) =>
        Effect.gen(function* () {
          assert.strictEqual(client.retryPolicy("health").maxAttempts, 2)
          assert.strictEqual(client.retryPolicy("listAssets").maxAttempts, 5)
          yield* script(sandbox, { kind: "error500", endpoint: "health", times: 100 })
          const error = yield* failsWith(client.health(), "HlConnectUnavailable")
          assert.strictEqual(error.attempts, 2)
          assert.strictEqual(yield* requestsTo(sandbox, "health"), 2)
        })
    )
  )

  it.live("empty 500: retried; lastCause is UnexpectedResponse 500 with an empty excerpt", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        yield* script(sandbox, { kind: "empty500", endpoint: "purchaseInfo", times: 100 })
        const error = yield* failsWith(client.purchaseInfo({ order_id: 5 }), "HlConnectUnavailable")
        assert.strictEqual(error.attempts, 3)
        assertTag(error.lastCause, "UnexpectedResponse")
        assert.deepStrictEqual([error.lastCause.status, error.lastCause.excerpt], [500, ""])
        assert.strictEqual(yield* requestsTo(sandbox, "purchaseInfo"), 3)
      })
    )
  )

  it.live("connection reset before handling: retried and answered", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        yield* script(sandbox, { kind: "resetBefore", endpoint: "listAssets" })
        const page = yield* client.listAssets({ page_size: 3 })
        assert.strictEqual(page.assets.length, 3)
        assert.strictEqual(yield* requestsTo(sandbox, "listAssets"), 2)
        // Resets every time: ConnectionFailed is the last cause.
        yield* script(sandbox, { kind: "resetBefore", endpoint: "listAssets", times: 100 })
        const error = yield* failsWith(client.listAssets({}), "HlConnectUnavailable")
        assert.strictEqual(error.attempts, 3)
        assertTag(error.lastCause, "ConnectionFailed")
        assert.isTrue(error.lastCause.mayHaveReachedServer)
      })
    )
  )

  it.live("a reset before a registration was handled: the retry registers it (201 Registered, once)", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* script(sandbox, { kind: "resetBefore", endpoint: "registerPurchase" })
        assert.strictEqual((yield* client.registerPurchase(request))._tag, "Registered")
        const s = yield* stats(sandbox)
        assert.strictEqual(s.requests.registerPurchase, 2)
        assert.deepStrictEqual(s.registrations, { [`${request.order_number}:1`]: 1 })
      })
    )
  )

  it.live("429 without a usable Retry-After (0): retried with backoff; exhausted → lastCause RateLimited", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        yield* script(sandbox, { kind: "rateLimit429", endpoint: "health", times: 100, retry_after_seconds: 0 })
        const error = yield* failsWith(client.health(), "HlConnectUnavailable")
        assertTag(error.lastCause, "RateLimited")
        assert.deepStrictEqual([error.lastCause.status, error.lastCause.retryAfterMillis], [429, 0])
        assert.strictEqual(yield* requestsTo(sandbox, "health"), 3)
      })
    )
  )
})

describe("Retry-After (TestClock)", () => {
  for (const kind of ["rateLimit429", "unavailable503"] as const) {
    it.effect(`${kind} with Retry-After: 5 is retried no sooner than 5 s later`, () =>
      withClient(sandbox, fastRetries(3), (client) =>
        Effect.gen(function* () {
          yield* script(sandbox, { kind, endpoint: "listAssets", retry_after_seconds: 5 })
          const fiber = yield* Effect.fork(client.listAssets({ page_size: 1 }))
          // The first attempt landed and the client is now waiting on the (test) clock.
          yield* eventually(TestClock.sleeps(), (sleeps) => sleeps.length > 0)
          assert.strictEqual(yield* requestsTo(sandbox, "listAssets"), 1)
          yield* TestClock.adjust(Duration.millis(4_999))
          yield* liveSleep(150)
          assert.strictEqual(yield* requestsTo(sandbox, "listAssets"), 1, "retried before Retry-After elapsed")
          yield* TestClock.adjust(Duration.millis(1))
          yield* eventually(requestsTo(sandbox, "listAssets"), (n) => n === 2)
          const page = yield* Fiber.join(fiber)
          assert.strictEqual(page.assets.length, 1)
          const s = yield* stats(sandbox)
          assert.strictEqual(s.responses[`listAssets ${kind === "rateLimit429" ? 429 : 503}`], 1)
          assert.strictEqual(s.responses["listAssets 200"], 1)
        })
      )
    )
  }

  it.effect("Retry-After beyond maxRetryTime: the client gives up instead of waiting", () =>
    withClient(sandbox, { ...fastRetries(3), maxRetryTime: "2 seconds" }, (client) =>
      Effect.gen(function* () {
        yield* script(sandbox, { kind: "rateLimit429", endpoint: "health", retry_after_seconds: 30 })
        const fiber = yield* Effect.fork(Effect.either(client.health()))
        yield* eventually(requestsTo(sandbox, "health"), (n) => n === 1)
        yield* TestClock.adjust(Duration.seconds(60))
        const result = yield* Fiber.join(fiber)
        assert.strictEqual(yield* requestsTo(sandbox, "health"), 1)
        assert.strictEqual(result._tag, "Left")
        if (result._tag === "Left") {
          assertTag(result.left, "HlConnectUnavailable")
          assertTag(result.left.lastCause, "RateLimited")
          assert.strictEqual(result.left.lastCause.retryAfterMillis, 30_000)
        }
      })
    )
  )
})

describe("answers that are never retried", () => {
  it.live("502 Failed on purchaseInfo: exactly one request", () =>
    withClient(sandbox, fastRetries(5), (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client, { asset_id: 4999 })
        yield* client.registerPurchase(request)
        yield* reset(sandbox)
        const outcome = yield* client.purchaseInfo({ order_id: request.order_number })
        assertTag(outcome, "Failed")
        assert.strictEqual(yield* requestsTo(sandbox, "purchaseInfo"), 1)
      })
    )
  )

  for (const endpoint of ["purchaseInfo", "validatePurchase"] as const) {
    it.live(
      `${endpoint}: an HTML 502 from a proxy is a gateway fault, retried; every time → HlConnectUnavailable`,
      () =>
        withClient(sandbox, fastRetries(5), (client) =>
          Effect.gen(function* () {
            yield* script(sandbox, { kind: "html502", endpoint, times: 5 })
            const call: Effect.Effect<unknown, PurchaseInfoError | ValidatePurchaseError> =
              endpoint === "purchaseInfo" ? client.purchaseInfo({ order_id: 3 }) : client.validatePurchase(validate)
            const error = yield* failsWith(call, "HlConnectUnavailable")
            assertTag(error.lastCause, "UnexpectedResponse")
            assert.strictEqual(error.lastCause.status, 502)
            assert.include(error.lastCause.excerpt, "502 Bad Gateway")
            assert.strictEqual(yield* requestsTo(sandbox, endpoint), 5)
          })
        )
    )
  }

  it.live("4xx answers (404, 422, 409, 400, 401) are sent once", () =>
    withClient(sandbox, fastRetries(5), (client) =>
      Effect.gen(function* () {
        yield* failsWith(client.purchaseInfo({ order_id: 1 }), "OrderNotFound")
        yield* failsWith(client.validatePurchase({ ...validate, asset_id: 4001 }), "ValidationRejected")
        const request = yield* validatedRegistration(client)
        yield* client.registerPurchase(request)
        yield* failsWith(client.registerPurchase(request), "OrderAlreadyExists")
        yield* client.cancelOrderLine({ order_id: request.order_number, order_line_id: 1 })
        yield* failsWith(
          client.cancelOrderLine({ order_id: request.order_number, order_line_id: 1 }),
          "InvalidOrderStatus"
        )
        const s = yield* stats(sandbox)
        assert.deepStrictEqual(s.requests, {
          purchaseInfo: 1,
          validatePurchase: 2,
          registerPurchase: 2,
          cancelOrderLine: 2
        })
      })
    )
  )

  it.live("teapot418: sent once", () =>
    withClient(sandbox, fastRetries(5), (client) =>
      Effect.gen(function* () {
        yield* script(sandbox, { kind: "teapot418", endpoint: "health", times: 5 })
        yield* failsWith(client.health(), "UnexpectedResponse")
        assert.strictEqual(yield* requestsTo(sandbox, "health"), 1)
      })
    )
  )
})

describe("attempt timeouts (wall clock)", () => {
  it.live("an attempt past attemptTimeout is abandoned and retried", () =>
    withClient(sandbox, { ...fastRetries(3), attemptTimeout: "200 millis" }, (client) =>
      Effect.gen(function* () {
        // The delayed request's own answer never matters: the client has given up on it by then.
        yield* script(sandbox, { kind: "error500", endpoint: "health", delay_ms: 1500 })
        const started = Date.now()
        const items = yield* client.health()
        const elapsed = Date.now() - started
        assert.strictEqual(items.length, 2)
        // Waiting for the slow answer would take ≥ 1.5 s; giving up after 200 ms is well below.
        assert.isBelow(elapsed, 1_400, `took ${elapsed} ms`)
        assert.isAtLeast(elapsed, 190)
        assert.strictEqual(yield* requestsTo(sandbox, "health"), 2)
      })
    )
  )

  it.live("always too slow: HlConnectUnavailable with lastCause AttemptTimedOut", () =>
    withClient(sandbox, { ...fastRetries(2), attemptTimeout: "200 millis" }, (client) =>
      Effect.gen(function* () {
        yield* setFaults(sandbox, FaultSettings.make({ latency_ms: 1_000, endpoints: ["listAssets"] }))
        const started = Date.now()
        const error = yield* failsWith(client.listAssets({}), "HlConnectUnavailable")
        const elapsed = Date.now() - started
        assert.strictEqual(error.attempts, 2)
        assertTag(error.lastCause, "AttemptTimedOut")
        assert.strictEqual(error.lastCause.timeoutMillis, 200)
        assert.isAtLeast(elapsed, 390)
        // Two full answers would take ≥ 2 s.
        assert.isBelow(elapsed, 1_900, `took ${elapsed} ms`)
        assert.strictEqual(yield* requestsTo(sandbox, "listAssets"), 2)
      })
    )
  )

  it.live("a per-endpoint attemptTimeout applies to that endpoint only", () =>
    withClient(
      sandbox,
      { ...fastRetries(1), retryPolicies: { listAssets: { attemptTimeout: Duration.millis(150) } } },
      (client) =>
        Effect.gen(function* () {
          yield* setFaults(sandbox, FaultSettings.make({ latency_ms: 400 }))
          const error = yield* failsWith(client.listAssets({}), "HlConnectUnavailable")
          assertTag(error.lastCause, "AttemptTimedOut")
          // Other endpoints keep the default (10 s): the same latency is fine.
          assert.strictEqual((yield* client.health()).length, 2)
        })
    )
  )
})

describe("maxRetryTime caps the time spent retrying", () => {
  it.live("500s forever: gives up within maxRetryTime, long before maxAttempts", () =>
    withClient(
      sandbox,
      {
        maxAttempts: 1_000,
        maxRetryTime: "300 millis",
        retryPolicies: { health: { baseDelay: Duration.millis(20), maxDelay: Duration.millis(50) } }
      },
      (client) =>
        Effect.gen(function* () {
          yield* script(sandbox, { kind: "error500", endpoint: "health", times: 10_000 })
          const started = Date.now()
          const error = yield* failsWith(client.health(), "HlConnectUnavailable")
          const elapsed = Date.now() - started
          assert.isAtLeast(elapsed, 250)
          // Uncapped, 1,000 attempts 20–50 ms apart would take tens of seconds.
          assert.isBelow(elapsed, 5_000, `took ${elapsed} ms`)
          assert.isAbove(error.attempts, 2)
          assert.isBelow(error.attempts, 1_000)
          assert.strictEqual(yield* requestsTo(sandbox, "health"), error.attempts)
        })
    )
  )
})
