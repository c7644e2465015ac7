/**
 * Configuration: the environment check (`X-Environment`), `layerConfig()` from `HLCONNECT_*`,
 * input validation before anything is sent, the in-flight limit and request pacing.
 */
import { afterAll, assert, beforeAll, beforeEach, describe, it } from "@effect/vitest"
import { HlConnect, type InvalidRequest } from "@hlconnect/core"
import { FaultSettings } from "@hlconnect/sandbox"
import { ConfigProvider, Duration, Effect, Either, Fiber, Layer, Option, Stream } from "effect"
import { Agent } from "undici"
import { type RunningSandbox, SandboxToken, startSandbox } from "@hlconnect/sandbox"
import { failsWith, liveSleep, setFaults, stats, totalRequests, validatedRegistration, withClient } from "./helpers.js"

let sandbox: RunningSandbox
beforeAll(async () => {
  sandbox = await startSandbox()
})
afterAll(() => sandbox.close())
beforeEach(() => sandbox.run(sandbox.state.resetFaultsAndStats))

describe("X-Environment", () => {
  it.live("a production client pointed at the sandbox fails with EnvironmentMismatch on every success", () =>
    withClient(sandbox, { expectedEnvironment: "production" }, (client) =>
      Effect.gen(function* () {
        assert.isTrue(Option.isNone(yield* client.environment), "nothing observed before the first call")
        const error = yield* failsWith(client.health(), "EnvironmentMismatch")
        assert.deepStrictEqual([error.expected, error.actual], ["production", "sandbox"])
        const validate = yield* failsWith(
          client.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 }),
          "EnvironmentMismatch"
        )
        assert.strictEqual(validate.actual, "sandbox")
        yield* failsWith(client.listAssets({}), "EnvironmentMismatch")
        assert.deepStrictEqual(yield* client.environment, Option.some("sandbox"))
        // A mismatch is not transient: one request each.
        assert.deepStrictEqual((yield* stats(sandbox)).requests, { health: 1, validatePurchase: 1, listAssets: 1 })
      })
    )
  )

  it.live('the right environment passes, and environment reads Some("sandbox")', () =>
    withClient(sandbox, { expectedEnvironment: "sandbox" }, (client) =>
      Effect.gen(function* () {
        yield* client.health()
        yield* client.listAssets({ page_size: 1 })
        assert.deepStrictEqual(yield* client.environment, Option.some("sandbox"))
      })
    )
  )

  it.live("error answers carry no X-Environment: a 404 is still OrderNotFound under a mismatching client", () =>
    withClient(sandbox, { expectedEnvironment: "production" }, (client) =>
      Effect.asVoid(failsWith(client.purchaseInfo({ order_id: 1 }), "OrderNotFound"))
    )
  )
})

describe("HlConnect.layerConfig()", () => {
  const fromEnv = (entries: Record<string, string>) =>
    HlConnect.layerConfig().pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries)))))
    )

  it.live("reads HLCONNECT_* and talks to the sandbox", () =>
    Effect.gen(function* () {
      const client = yield* HlConnect
      assert.strictEqual((yield* client.health()).length, 2)
      assert.strictEqual((yield* client.listAssets({ page_size: 2 })).assets.length, 2)
      assert.strictEqual(client.retryPolicy("registerPurchase").maxAttempts, 2)
      assert.strictEqual(Duration.toMillis(client.retryPolicy("health").attemptTimeout), 1_500)
      assert.strictEqual(Duration.toMillis(client.retryPolicy("listAssets").maxElapsed), 4_000)
      assert.deepStrictEqual(yield* client.environment, Option.some("sandbox"))
    }).pipe(
      Effect.provide(
        fromEnv({
          HLCONNECT_BASE_URL: sandbox.url,
          HLCONNECT_TOKEN: SandboxToken,
          HLCONNECT_MAX_ATTEMPTS: "2",
          HLCONNECT_ATTEMPT_TIMEOUT: "1500 millis",
          HLCONNECT_MAX_RETRY_TIME: "4 seconds",
          HLCONNECT_MAX_IN_FLIGHT: "4",
          HLCONNECT_REQUESTS_PER_SECOND: "1000",
          HLCONNECT_EXPECTED_ENVIRONMENT: "sandbox"
        })
      )
    )
  )

  it.live("HLCONNECT_EXPECTED_ENVIRONMENT is enforced", () =>
    Effect.gen(function* () {
      const client = yield* HlConnect
      yield* failsWith(client.health(), "EnvironmentMismatch")
    }).pipe(
      Effect.provide(
        fromEnv({
          HLCONNECT_BASE_URL: sandbox.url,
          HLCONNECT_TOKEN: SandboxToken,
          HLCONNECT_EXPECTED_ENVIRONMENT: "production"
        })
      )
    )
  )

  const bad: ReadonlyArray<readonly [string, Record<string, string>]> = [
    ["HLCONNECT_MAX_ATTEMPTS", { HLCONNECT_MAX_ATTEMPTS: "0" }],
    ["HLCONNECT_MAX_ATTEMPTS", { HLCONNECT_MAX_ATTEMPTS: "two" }],
    ["HLCONNECT_TOKEN", { HLCONNECT_TOKEN: "(missing)" }],
    ["HLCONNECT_BASE_URL", { HLCONNECT_BASE_URL: "not a url" }],
    ["HLCONNECT_ATTEMPT_TIMEOUT", { HLCONNECT_ATTEMPT_TIMEOUT: "soon" }],
    ["HLCONNECT_MAX_IN_FLIGHT", { HLCONNECT_MAX_IN_FLIGHT: "0" }],
    ["HLCONNECT_REQUESTS_PER_SECOND", { HLCONNECT_REQUESTS_PER_SECOND: "-1" }]
  ]
  for (const [variable, override] of bad) {
    it.live(
      `a bad ${variable} (${JSON.stringify(Object.values(override)[0])}) fails with a ConfigError naming it`,
      () =>
        Effect.gen(function* () {
          const env: Record<string, string> = {
            HLCONNECT_BASE_URL: sandbox.url,
            HLCONNECT_TOKEN: SandboxToken,
            ...override
          }
          if (variable === "HLCONNECT_TOKEN") delete env.HLCONNECT_TOKEN
          const result = yield* Effect.either(Effect.provide(HlConnect, fromEnv(env)))
          assert.isTrue(Either.isLeft(result), "the layer was built")
          if (Either.isLeft(result)) {
            assert.include(String(result.left), variable)
          }
          assert.strictEqual(yield* totalRequests(sandbox), 0)
        })
    )
  }
})

describe("invalid input fails before any request, naming the field", () => {
  const register = {
    token: "dGVzdF90b2tlbg==",
    order_number: 12345,
    order_line_id: 1,
    unit_price: 3.99,
    line_item_price: 3.99,
    customer: "John Customer"
  }
  const line = { order_id: 12345, order_line_id: 1 }
  const cases: ReadonlyArray<
    readonly [string, string, (client: HlConnect) => Effect.Effect<unknown, { readonly _tag: string }>]
  > = [
    [
      "validatePurchase",
      "quantity",
      (c) => c.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 0 })
    ],
    [
      "validatePurchase",
      "quantity",
      (c) => c.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1.5 })
    ],
    [
      "validatePurchase",
      "asset_id",
      (c) => c.validatePurchase({ asset_id: -1, customer_ip: "192.0.2.1", quantity: 1 })
    ],
    [
      "validatePurchase",
      "customer_ip",
      (c) => c.validatePurchase({ asset_id: 4000, customer_ip: "not-an-ip", quantity: 1 })
    ],
    [
      "validatePurchase",
      "customer_ip",
      (c) => c.validatePurchase({ asset_id: 4000, customer_ip: "256.1.1.1", quantity: 1 })
    ],
    ["validatePurchase", "customer_ip", (c) => c.validatePurchase({ asset_id: 4000, customer_ip: "", quantity: 1 })],
    ["registerPurchase", "customer", (c) => c.registerPurchase({ ...register, customer: "" })],
    ["registerPurchase", "customer", (c) => c.registerPurchase({ ...register, customer: "   " })],
    ["registerPurchase", "token", (c) => c.registerPurchase({ ...register, token: "" })],
    ["registerPurchase", "order_number", (c) => c.registerPurchase({ ...register, order_number: 0 })],
    ["registerPurchase", "order_line_id", (c) => c.registerPurchase({ ...register, order_line_id: -1 })],
    ["registerPurchase", "unit_price", (c) => c.registerPurchase({ ...register, unit_price: -0.01 })],
    ["registerPurchase", "line_item_price", (c) => c.registerPurchase({ ...register, line_item_price: Number.NaN })],
    [
      "registerPurchase",
      "line_item_price",
      (c) => c.registerPurchase({ ...register, line_item_price: Number.POSITIVE_INFINITY })
    ],
    [
      "registerPurchase",
      "parts.0.asset_id",
      (c) => c.registerPurchase({ ...register, parts: [{ asset_id: 0, order_line_id: 2 }] })
    ],
    [
      "registerPurchase",
      "parts.1.order_line_id",
      (c) =>
        c.registerPurchase({
          ...register,
          parts: [
            { asset_id: 4004, order_line_id: 2 },
            { asset_id: 4005, order_line_id: 0 }
          ]
        })
    ],
    ["purchaseInfo", "order_id", (c) => c.purchaseInfo({ order_id: -1 })],
    ["purchaseInfo", "order_id", (c) => c.purchaseInfo({ order_id: 2.5 })],
    ["downloadUrl", "order_id", (c) => c.downloadUrl({ ...line, order_id: 0 })],
    ["downloadUrl", "order_line_id", (c) => c.downloadUrl({ ...line, order_line_id: -1 })],
    ["viewUrl", "order_id", (c) => c.viewUrl({ ...line, order_id: -1 })],
    ["viewUrl", "order_line_id", (c) => c.viewUrl({ ...line, order_line_id: 0 })],
    ["cancelOrderLine", "order_id", (c) => c.cancelOrderLine({ ...line, order_id: 0 })],
    ["cancelOrderLine", "order_line_id", (c) => c.cancelOrderLine({ ...line, order_line_id: Number.NaN })],
    ["listAssets", "page_size", (c) => c.listAssets({ page_size: 0 })],
    ["listAssets", "last_id", (c) => c.listAssets({ last_id: -1 })],
    ["assets", "page_size", (c) => Stream.runDrain(c.assets({ pageSize: 0 }))]
  ]
  for (const [method, field, call] of cases) {
    it.live(`${method}: bad ${field}`, () =>
      withClient(sandbox, {}, (client) =>
        Effect.gen(function* () {
          const error: InvalidRequest = yield* failsWith(call(client), "InvalidRequest")
          assert.strictEqual(error.field, field)
          assert.include(error.message, field, "the message names the field")
          assert.include(String(error), field)
          assert.strictEqual(yield* totalRequests(sandbox), 0, "a request was sent")
        })
      )
    )
  }

  it.live("valid edge values do go out (quantity 1, last_id 0, price 0, IPv6)", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        yield* client.validatePurchase({ asset_id: 4000, customer_ip: "2001:db8::1", quantity: 1 })
        yield* client.listAssets({ page_size: 1, last_id: 0 })
        const request = yield* validatedRegistration(client, { asset_id: 4004, unit_price: 0 })
        yield* client.registerPurchase({ ...request, customer: "  Jane  " })
        assert.strictEqual(yield* totalRequests(sandbox), 4)
      })
    )
  )
})

describe("maxInFlight and requestsPerSecond", () => {
  /** Polls the sandbox while `work` runs: the most requests it had seen but not yet answered. */
  const maxServerConcurrency = <A, E>(work: Effect.Effect<A, E>) =>
    Effect.gen(function* () {
      let running = true
      let max = 0
      const sampler = Effect.gen(function* () {
        while (running) {
          const s = yield* stats(sandbox)
          const arrived = Object.values(s.requests).reduce((a, b) => a + b, 0)
          const answered = Object.values(s.responses).reduce((a, b) => a + b, 0)
          max = Math.max(max, arrived - answered)
          yield* liveSleep(5)
        }
      })
      const fiber = yield* Effect.fork(sampler)
      const started = Date.now()
      const result = yield* Effect.ensuring(
        work,
        Effect.sync(() => {
          running = false
        })
      )
      const elapsed = Date.now() - started
      yield* fiber.await
      return { result, max, elapsed }
    })

  it.live("maxInFlight 2: ten concurrent calls against 100 ms latency, never more than 2 at the server", () =>
    withClient(sandbox, { maxInFlight: 2 }, (client) =>
      Effect.gen(function* () {
        yield* setFaults(sandbox, FaultSettings.make({ latency_ms: 100 }))
        const { max, elapsed } = yield* maxServerConcurrency(
          Effect.all(
            Array.from({ length: 10 }, () => client.health()),
            { concurrency: "unbounded" }
          )
        )
        assert.strictEqual(max, 2, "observed server-side concurrency")
        assert.isAtLeast(elapsed, 5 * 100 - 20, `took ${elapsed} ms`)
        assert.strictEqual((yield* stats(sandbox)).responses["health 200"], 10)
      })
    )
  )

  it.live("the measurement is real: with maxInFlight 10 the same calls overlap", () =>
    withClient(sandbox, { maxInFlight: 10 }, (client) =>
      Effect.gen(function* () {
        yield* setFaults(sandbox, FaultSettings.make({ latency_ms: 100 }))
        const { max, elapsed } = yield* maxServerConcurrency(
          Effect.all(
            Array.from({ length: 10 }, () => client.health()),
            { concurrency: "unbounded" }
          )
        )
        assert.isAbove(max, 2)
        assert.isBelow(elapsed, 10 * 100, "ten calls overlapped (one after another would take ≥ 1 s)")
      })
    )
  )

  it.live(
    "the cap is the client's own: over a dispatcher with 32 connections, maxInFlight 2 still holds; an interrupted waiter leaves no permit behind",
    () =>
      Effect.acquireUseRelease(
        Effect.sync(() => new Agent({ connections: 32 })),
        (dispatcher) =>
          withClient(sandbox, { maxInFlight: 2, dispatcher }, (client) =>
            Effect.gen(function* () {
              yield* setFaults(sandbox, FaultSettings.make({ latency_ms: 100 }))
              // A waiter interrupted while every permit is taken must not keep one when it leaves.
              const holders = yield* Effect.fork(Effect.all([client.health(), client.health()], { concurrency: 2 }))
              yield* liveSleep(30)
              const waiter = yield* Effect.fork(client.health())
              yield* liveSleep(10)
              yield* Fiber.interrupt(waiter)
              yield* Fiber.join(holders)
              const { max, elapsed } = yield* maxServerConcurrency(
                Effect.all(
                  Array.from({ length: 10 }, () => client.health()),
                  { concurrency: "unbounded" }
                )
              )
              assert.strictEqual(max, 2, "observed server-side concurrency")
              assert.isAtLeast(elapsed, 5 * 100 - 20, `took ${elapsed} ms: two at a time, both permits back`)
              assert.isBelow(elapsed, 8 * 100, `took ${elapsed} ms: not one at a time (a permit lost)`)
            })
          ),
        (dispatcher) => Effect.promise(() => dispatcher.close())
      )
  )

  it.live("requestsPerSecond 20: eight calls are spaced 50 ms apart", () =>
    withClient(sandbox, { requestsPerSecond: 20 }, (client) =>
      Effect.gen(function* () {
        const started = Date.now()
        yield* Effect.all(
          Array.from({ length: 8 }, () => client.health()),
          { concurrency: "unbounded" }
        )
        const elapsed = Date.now() - started
        assert.isAtLeast(elapsed, 7 * 50 - 15, `took ${elapsed} ms`)
        assert.strictEqual((yield* stats(sandbox)).requests.health, 8)
      })
    )
  )
})
