import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Ref, Schedule, TestClock } from "effect"
import {
  DefaultRetryPolicies,
  EndpointNames,
  isTransient,
  parseRetryAfter,
  type RetryPolicy,
  retrySchedule
} from "../src/RetryPolicy.js"
import {
  AttemptTimedOut,
  ConnectionFailed,
  InvalidOrderStatus,
  RateLimited,
  ServerError,
  UnexpectedResponse
} from "../src/Errors.js"

const policy = (overrides: Partial<RetryPolicy>): RetryPolicy => ({
  maxAttempts: 4,
  baseDelay: Duration.millis(100),
  maxDelay: Duration.seconds(1),
  maxElapsed: Duration.seconds(30),
  attemptTimeout: Duration.seconds(5),
  ...overrides
})

/** Runs `failure` through the schedule and records the delay before each retry. */
const delaysOf = (p: RetryPolicy, failure: { readonly _tag: string }) =>
  Effect.gen(function* () {
    const attempts = yield* Ref.make(0)
    const fiber = yield* Ref.update(attempts, (n) => n + 1).pipe(
      Effect.zipRight(Effect.fail(failure)),
      Effect.retry({ schedule: retrySchedule(p) }),
      Effect.either,
      Effect.fork
    )
    yield* TestClock.adjust(Duration.minutes(10))
    yield* Fiber.join(fiber)
    return yield* Ref.get(attempts)
  })

describe("RetryPolicy", () => {
  it("every endpoint has a default policy with a cap on attempts, time and each attempt", () => {
    for (const name of EndpointNames) {
      const p = DefaultRetryPolicies[name]
      assert.isAtLeast(p.maxAttempts, 1)
      assert.isTrue(Duration.greaterThan(p.maxElapsed, Duration.zero))
      assert.isTrue(Duration.greaterThan(p.attemptTimeout, Duration.zero))
      assert.isTrue(Duration.lessThanOrEqualTo(p.baseDelay, p.maxDelay))
    }
  })

  it.effect("makes at most maxAttempts attempts", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* delaysOf(policy({ maxAttempts: 4 }), new ServerError({ status: 500, message: "x" })), 4)
      assert.strictEqual(yield* delaysOf(policy({ maxAttempts: 1 }), new ServerError({ status: 500, message: "x" })), 1)
    })
  )

  it.effect("stops retrying once maxElapsed has passed", () =>
    Effect.gen(function* () {
      // 100, 200, 400, 800, 1000 … ms (±20 %): within 1.5 s only a few retries fit.
      const attempts = yield* delaysOf(
        policy({ maxAttempts: 100, maxElapsed: Duration.millis(1500) }),
        new ConnectionFailed({ message: "reset", mayHaveReachedServer: true })
      )
      assert.isAtLeast(attempts, 3)
      assert.isAtMost(attempts, 6)
    })
  )

  it.effect("waits at least Retry-After, even above maxDelay", () =>
    Effect.gen(function* () {
      const tries = yield* Ref.make<Array<number>>([])
      const fiber = yield* Effect.clockWith((clock) => clock.currentTimeMillis).pipe(
        Effect.flatMap((now) => Ref.update(tries, (t) => [...t, now])),
        Effect.zipRight(Effect.fail(new RateLimited({ status: 429, retryAfterMillis: 7_000 }))),
        Effect.retry({ schedule: retrySchedule(policy({ maxAttempts: 3, maxDelay: Duration.seconds(1) })) }),
        Effect.either,
        Effect.fork
      )
      yield* TestClock.adjust(Duration.seconds(6))
      assert.strictEqual((yield* Ref.get(tries)).length, 1, "not retried before Retry-After")
      yield* TestClock.adjust(Duration.seconds(2))
      assert.strictEqual((yield* Ref.get(tries)).length, 2, "retried once Retry-After passed")
      yield* TestClock.adjust(Duration.seconds(10))
      yield* Fiber.join(fiber)
      const [first, second] = yield* Ref.get(tries)
      assert.isAtLeast((second ?? 0) - (first ?? 0), 7_000)
    })
  )

  it.effect("backoff grows exponentially but each delay stays under maxDelay (+ jitter)", () =>
    Effect.gen(function* () {
      const delays = yield* Schedule.run(
        Schedule.delays(retrySchedule(policy({ maxAttempts: 8, maxDelay: Duration.millis(500) }))),
        0,
        // One input per retry: 8 attempts are 7 retries.
        Array.from({ length: 7 }, () => new ServerError({ status: 500, message: "x" }))
      )
      const millis = [...delays].map(Duration.toMillis)
      assert.strictEqual(millis.length, 7)
      assert.isBelow(millis[0] ?? 0, 130)
      for (const d of millis) assert.isAtMost(d, 500)
      assert.isAbove(millis[3] ?? 0, millis[0] ?? 0)
    })
  )

  it("only transient failures are retryable", () => {
    assert.isTrue(isTransient(new ServerError({ status: 500, message: "x" })))
    assert.isTrue(isTransient(new RateLimited({ status: 429 })))
    assert.isTrue(isTransient(new ConnectionFailed({ message: "x", mayHaveReachedServer: false })))
    assert.isTrue(isTransient(new AttemptTimedOut({ timeoutMillis: 10 })))
    assert.isTrue(isTransient(new UnexpectedResponse({ status: 500, excerpt: "" })), "an empty 500 is still a 500")
    for (const status of [408, 502, 503, 504]) {
      assert.isTrue(
        isTransient(new UnexpectedResponse({ status, excerpt: "<html>" })),
        `a gateway's ${status} is transient`
      )
    }
    assert.isFalse(isTransient(new UnexpectedResponse({ status: 418, excerpt: "" })))
    assert.isFalse(isTransient(new InvalidOrderStatus({ message: "x" })))
  })

  it("parses Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-11-28T12:00:00Z")
    assert.strictEqual(parseRetryAfter("5", now), 5000)
    assert.strictEqual(parseRetryAfter(" 0 ", now), 0)
    assert.strictEqual(parseRetryAfter("Sat, 28 Nov 2026 12:00:30 GMT", now), 30_000)
    assert.strictEqual(parseRetryAfter("Sat, 28 Nov 2026 11:00:00 GMT", now), 0, "a date in the past means now")
    assert.isUndefined(parseRetryAfter(undefined, now))
    assert.isUndefined(parseRetryAfter("soon", now))
  })
})
