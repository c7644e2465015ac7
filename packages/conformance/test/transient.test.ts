/**
 * The transient-fault table of the core README, row by row, over real HTTP against the sandbox's
 * fault injection: what real infrastructure in front of HL Connect answers (HTML 502/504 from
 * proxies, 408, 503 after the request was acted on, resets, timeouts) is retried on every
 * endpoint; info's 502 is `Failed` only with HL Connect's own JSON; and for idempotent
 * registration every attempt that was sent "may have reached" HL Connect, except a 429.
 */
import { afterAll, assert, beforeAll, beforeEach, describe, it } from "@effect/vitest"
import type { HlConnect } from "@hlconnect/core"
import { type RunningSandbox, type ScriptedFault, startSandbox } from "@hlconnect/sandbox"
import { Duration, Effect } from "effect"
import {
  assertTag,
  failsWith,
  fastRetries,
  requestsTo,
  reset,
  script,
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

type Fault = Omit<ConstructorParameters<typeof ScriptedFault>[0], "endpoint">

/** Answers that never reached HL Connect, or reached it and did nothing lasting. */
const faultsBeforeHlConnect: ReadonlyArray<readonly [string, Fault]> = [
  ["500 ErrorResponse", { kind: "error500" }],
  ["500 empty", { kind: "empty500" }],
  ["502 HTML", { kind: "html502" }],
  ["502 empty", { kind: "empty502" }],
  ["502 foreign JSON", { kind: "custom", status: 502, body: JSON.stringify({ message: "Bad Gateway" }) }],
  ["503 Retry-After", { kind: "unavailable503", retry_after_seconds: 0 }],
  ["408 HTML", { kind: "timeout408" }],
  ["429 Retry-After", { kind: "rateLimit429", retry_after_seconds: 0 }],
  ["connection reset before handling", { kind: "resetBefore" }]
]
/** Answers a gateway gave after HL Connect acted on the request. */
const faultsAfterHlConnect: ReadonlyArray<readonly [string, Fault]> = [
  ["504 HTML after the request was handled", { kind: "gateway504" }],
  ["503 after the request was handled", { kind: "unavailable503After", retry_after_seconds: 0 }],
  ["connection reset after handling", { kind: "resetAfter" }]
]

interface Line {
  readonly order_id: number
  readonly order_line_id: number
}
/** One ordinary call per endpoint (on a line registered beforehand), answered normally once the fault has passed. */
const calls: ReadonlyArray<readonly [string, (client: HlConnect, line: Line) => Effect.Effect<unknown, unknown>]> = [
  ["validatePurchase", (c) => c.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 })],
  ["purchaseInfo", (c, line) => c.purchaseInfo({ order_id: line.order_id })],
  ["downloadUrl", (c, line) => c.downloadUrl(line)],
  ["viewUrl", (c, line) => c.viewUrl(line)],
  ["listAssets", (c) => c.listAssets({ page_size: 2 })],
  ["health", (c) => c.health()]
]

/** A line registered (and, with no fulfilment delay, completed) before the fault is scripted. */
const registered = (client: HlConnect): Effect.Effect<Line, unknown> =>
  Effect.gen(function* () {
    const request = yield* validatedRegistration(client)
    yield* client.registerPurchase(request)
    yield* reset(sandbox)
    return { order_id: request.order_number, order_line_id: 1 }
  })

describe("every endpoint retries what gateways answer", () => {
  for (const [endpoint, call] of calls) {
    for (const [name, fault] of [...faultsBeforeHlConnect, ...faultsAfterHlConnect]) {
      it.live(`${endpoint}: ${name} → retried, then answered`, () =>
        withClient(sandbox, fastRetries(3), (client) =>
          Effect.gen(function* () {
            const line = yield* registered(client)
            yield* script(sandbox, { ...fault, endpoint })
            yield* call(client, line)
            assert.strictEqual(yield* requestsTo(sandbox, endpoint), 2, "one faulty attempt, one answered")
          })
        )
      )
    }
  }

  it.live("cancelOrderLine: a fault before HL Connect is retried, and the line is cancelled", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        for (const [, fault] of faultsBeforeHlConnect) {
          const line = yield* registered(client)
          yield* script(sandbox, { ...fault, endpoint: "cancelOrderLine" })
          yield* client.cancelOrderLine(line)
          assert.strictEqual(yield* requestsTo(sandbox, "cancelOrderLine"), 2, `${fault.kind}`)
        }
      })
    )
  )

  it.live("a fault on every attempt: HlConnectUnavailable naming the last one (an HTML 504)", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        yield* script(sandbox, { kind: "gateway504", endpoint: "listAssets", times: 10 })
        const error = yield* failsWith(client.listAssets({}), "HlConnectUnavailable")
        assert.strictEqual(error.attempts, 3)
        assertTag(error.lastCause, "UnexpectedResponse")
        assert.strictEqual(error.lastCause.status, 504)
        assert.include(error.lastCause.excerpt, "504 Gateway Time-out")
      })
    )
  )
})

describe("info's 502: Failed only when HL Connect says so", () => {
  it.live("HL Connect's OrderProcessingFailedResponse: Failed, asked once", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const line = yield* registered(client)
        const body = JSON.stringify({ status: "FAILED", message: "rendering failed" })
        yield* script(sandbox, { kind: "custom", endpoint: "purchaseInfo", status: 502, body })
        const outcome = yield* client.purchaseInfo({ order_id: line.order_id })
        assertTag(outcome, "Failed")
        assert.deepStrictEqual([outcome.status, outcome.message], ["FAILED", "rendering failed"])
        assert.strictEqual(yield* requestsTo(sandbox, "purchaseInfo"), 1)
      })
    )
  )

  for (const [name, fault] of faultsBeforeHlConnect.filter(
    ([, f]) => f.kind === "html502" || f.kind === "empty502" || f.kind === "custom"
  )) {
    it.live(`${name} on every attempt: never Failed, HlConnectUnavailable`, () =>
      withClient(sandbox, fastRetries(3), (client) =>
        Effect.gen(function* () {
          const line = yield* registered(client)
          yield* script(sandbox, { ...fault, endpoint: "purchaseInfo", times: 10 })
          const error = yield* failsWith(client.purchaseInfo({ order_id: line.order_id }), "HlConnectUnavailable")
          assertTag(error.lastCause, "UnexpectedResponse")
          assert.strictEqual(error.lastCause.status, 502)
          assert.strictEqual(yield* requestsTo(sandbox, "purchaseInfo"), 3)
        })
      )
    )
  }
})

describe("registration: a 409 after an attempt that may have reached HL Connect is AlreadyRegistered", () => {
  /** The line is registered already (as if the faulty attempt had gone through); then the fault, then 409. */
  const afterFault = (fault: Fault, options: { readonly attemptTimeout?: Duration.DurationInput } = {}) =>
    withClient(sandbox, { ...fastRetries(3), ...options }, (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* client.registerPurchase(request)
        yield* script(sandbox, { ...fault, endpoint: "registerPurchase" })
        const outcome = yield* Effect.either(client.registerPurchase(request))
        const s = yield* stats(sandbox)
        assert.strictEqual(s.responses["registerPurchase 409"], 1, "the retry was answered 409")
        assert.deepStrictEqual(s.registrations, { [`${request.order_number}:1`]: 1 })
        return outcome._tag === "Right" ? outcome.right._tag : outcome.left._tag
      })
    )

  for (const [name, fault] of [...faultsBeforeHlConnect, ...faultsAfterHlConnect]) {
    const expected = fault.kind === "rateLimit429" ? "OrderAlreadyExists" : "AlreadyRegistered"
    it.live(`${name}, then 409 → ${expected}`, () =>
      Effect.map(afterFault(fault), (tag) => assert.strictEqual(tag, expected))
    )
  }

  it.live("an attempt timeout, then 409 → AlreadyRegistered", () =>
    Effect.map(afterFault({ kind: "error500", delay_ms: 1_000 }, { attemptTimeout: "150 millis" }), (tag) =>
      assert.strictEqual(tag, "AlreadyRegistered")
    )
  )

  it.live("a 503 that hid a registration HL Connect made: AlreadyRegistered, the line exists once", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* script(sandbox, { kind: "unavailable503After", endpoint: "registerPurchase", retry_after_seconds: 0 })
        assert.strictEqual((yield* client.registerPurchase(request))._tag, "AlreadyRegistered")
        assert.deepStrictEqual((yield* stats(sandbox)).registrations, { [`${request.order_number}:1`]: 1 })
      })
    )
  )

  it.live("a connection never established (refused) did not reach HL Connect", () =>
    withClient(sandbox, { ...fastRetries(2), baseUrl: "http://127.0.0.1:9" }, (client) =>
      Effect.gen(function* () {
        const error = yield* failsWith(client.health(), "HlConnectUnavailable")
        assertTag(error.lastCause, "ConnectionFailed")
        assert.isFalse(error.lastCause.mayHaveReachedServer)
      })
    )
  )
})
