/**
 * Every endpoint × every documented status, through the client, over real HTTP.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import {
  type CancelOrderLineError,
  type EndpointName,
  type HealthError,
  type HlConnect,
  type ListAssetsError,
  type OrderLineUrlError,
  type PurchaseInfoError,
  Processing,
  type RegisterPurchaseError,
  type ValidatePurchaseError
} from "@hlconnect/core"
import { Chunk, Duration, Effect, Option, Redacted, Stream } from "effect"
import { type RunningSandbox, SandboxToken, startSandbox } from "@hlconnect/sandbox"
import {
  assertTag,
  failsWith,
  liveSleep,
  orderNumber,
  reset,
  script,
  stats,
  validatedRegistration,
  withClient
} from "./helpers.js"

let sandbox: RunningSandbox
/** Lines settle on the second poll: the first `purchaseInfo` is a 202. */
beforeAll(async () => {
  sandbox = await startSandbox({ fulfilmentDelay: Duration.minutes(10), fulfilmentPolls: 2 })
})
afterAll(() => sandbox.close())

const noRetries = { maxAttempts: 1 }
const wrongToken = { accessToken: Redacted.make("not-the-sandbox-token") }

/** One valid call per endpoint, for the statuses every endpoint shares (401, 500). */
type AnyCallError =
  | ValidatePurchaseError
  | RegisterPurchaseError
  | PurchaseInfoError
  | OrderLineUrlError
  | CancelOrderLineError
  | ListAssetsError
  | HealthError
const anyCall: Record<EndpointName, (client: HlConnect) => Effect.Effect<unknown, AnyCallError>> = {
  validatePurchase: (c) => c.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 }),
  registerPurchase: (c) =>
    c.registerPurchase({
      token: "t",
      order_number: orderNumber(),
      order_line_id: 1,
      unit_price: 1,
      line_item_price: 1,
      customer: "C"
    }),
  purchaseInfo: (c) => c.purchaseInfo({ order_id: orderNumber() }),
  downloadUrl: (c) => c.downloadUrl({ order_id: orderNumber(), order_line_id: 1 }),
  viewUrl: (c) => c.viewUrl({ order_id: orderNumber(), order_line_id: 1 }),
  cancelOrderLine: (c) => c.cancelOrderLine({ order_id: orderNumber(), order_line_id: 1 }),
  listAssets: (c) => c.listAssets({}),
  health: (c) => c.health()
}
const authenticated: ReadonlyArray<EndpointName> = [
  "validatePurchase",
  "registerPurchase",
  "purchaseInfo",
  "downloadUrl",
  "viewUrl",
  "cancelOrderLine",
  "listAssets"
]
const allEndpoints: ReadonlyArray<EndpointName> = [...authenticated, "health"]

/** Registers a fresh order (line 1 of `asset_id`), then polls it to its settled answer. */
const registerAndSettle = (client: HlConnect, asset_id = 4000) =>
  Effect.gen(function* () {
    const request = yield* validatedRegistration(client, { asset_id })
    assert.strictEqual((yield* client.registerPurchase(request))._tag, "Registered")
    const first = yield* client.purchaseInfo({ order_id: request.order_number })
    assert.strictEqual(first._tag, "Processing")
    return { request, outcome: yield* client.purchaseInfo({ order_id: request.order_number }) }
  })

describe("every endpoint", () => {
  for (const endpoint of authenticated) {
    it.live(`${endpoint}: 401 with a wrong token is Unauthorized`, () =>
      withClient(sandbox, { ...wrongToken, ...noRetries }, (client) =>
        Effect.gen(function* () {
          yield* reset(sandbox)
          const error = yield* failsWith(anyCall[endpoint](client), "Unauthorized")
          assert.strictEqual(error.message, "missing or invalid bearer token")
          assert.deepStrictEqual((yield* stats(sandbox)).responses, { [`${endpoint} 401`]: 1 })
        })
      )
    )
  }
  for (const endpoint of allEndpoints) {
    it.live(`${endpoint}: 500 is a ServerError, given up as HlConnectUnavailable`, () =>
      withClient(sandbox, noRetries, (client) =>
        Effect.gen(function* () {
          yield* reset(sandbox)
          yield* script(sandbox, { kind: "error500", endpoint })
          const error = yield* failsWith(anyCall[endpoint](client), "HlConnectUnavailable")
          assert.strictEqual(error.endpoint, endpoint)
          assert.strictEqual(error.attempts, 1)
          assertTag(error.lastCause, "ServerError")
          assert.strictEqual(error.lastCause.status, 500)
          assert.strictEqual(error.lastCause.message, "injected fault")
          assert.strictEqual((yield* stats(sandbox)).responses[`${endpoint} 500`], 1)
        })
      )
    )
  }
})

describe("validatePurchase", () => {
  it.live("200: a validation token with its expiry", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const token = yield* client.validatePurchase({ asset_id: 4000, customer_ip: "203.0.113.1", quantity: 1 })
        assert.isTrue(token.token.length > 0)
        assert.isTrue(Number.isInteger(token.exp_date))
        assert.isTrue(token.exp_date > Date.now() / 1000)
      })
    )
  )

  it.live("200 from every mapped region (US, GB, DE, CA via IPv6)", () =>
    withClient(sandbox, {}, (client) =>
      Effect.forEach(["192.0.2.44", "198.51.100.7", "203.0.113.200", "2001:db8::1"], (customer_ip) =>
        client.validatePurchase({ asset_id: 4000, customer_ip, quantity: 1 })
      )
    )
  )

  it.live("400 scripted with an ErrorResponse body is BadRequest, with the server's message", () =>
    withClient(sandbox, noRetries, (client) =>
      Effect.gen(function* () {
        yield* script(sandbox, {
          kind: "custom",
          endpoint: "validatePurchase",
          status: 400,
          body: JSON.stringify({ name: "BadRequest", message: "quantity must be a number", code: 400, status: 400 })
        })
        const error = yield* failsWith(
          client.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 }),
          "BadRequest"
        )
        assert.strictEqual(error.message, "quantity must be a number")
      })
    )
  )

  it.live("400 from the sandbox itself for a malformed body (raw HTTP)", () =>
    Effect.gen(function* () {
      yield* reset(sandbox)
      const post = (body: string) =>
        Effect.promise(() =>
          fetch(`${sandbox.url}/purchase/validate-purchase-before-payment`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${SandboxToken}`,
              "content-type": "application/json",
              accept: "application/json"
            },
            body
          })
        )
      const notJson = yield* post("{not json")
      assert.strictEqual(notJson.status, 400)
      const wrongShape = yield* post(JSON.stringify({ asset_id: "4000", customer_ip: "192.0.2.1" }))
      assert.strictEqual(wrongShape.status, 400)
      const zero = yield* post(JSON.stringify({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 0 }))
      assert.strictEqual(zero.status, 400)
      assert.strictEqual((yield* stats(sandbox)).responses["validatePurchase 400"], 3)
    })
  )

  it.live("404: an asset that does not exist is AssetNotFound", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const error = yield* failsWith(
          client.validatePurchase({ asset_id: 3999, customer_ip: "192.0.2.1", quantity: 1 }),
          "AssetNotFound"
        )
        assert.strictEqual(error.message, "asset 3999 does not exist")
      })
    )
  )

  it.live("422: ValidationRejected carries the server's message and reason", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const cases = [
          {
            input: { asset_id: 4000, customer_ip: "10.1.2.3", quantity: 1 },
            reason: "InvalidCountry",
            message: "10.1.2.3"
          },
          {
            input: { asset_id: 4002, customer_ip: "198.51.100.9", quantity: 1 },
            reason: "NotSellableInCountry",
            message: "not sellable in GB"
          },
          {
            input: { asset_id: 4008, customer_ip: "192.0.2.9", quantity: 1 },
            reason: "NotSellableInCountry",
            message: "not sellable in US"
          },
          {
            input: { asset_id: 4001, customer_ip: "192.0.2.9", quantity: 2 },
            reason: "QuantityBelowMinimum",
            message: "at least 10"
          }
        ]
        for (const c of cases) {
          const error = yield* failsWith(client.validatePurchase(c.input), "ValidationRejected")
          assert.strictEqual(error.reason, c.reason)
          assert.include(error.message, c.message)
        }
        // The same assets where they are allowed.
        yield* client.validatePurchase({ asset_id: 4002, customer_ip: "2001:db8::7", quantity: 1 })
        yield* client.validatePurchase({ asset_id: 4001, customer_ip: "192.0.2.9", quantity: 10 })
      })
    )
  )
})

describe("registerPurchase", () => {
  it.live("201 is Registered; the line exists once", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        yield* reset(sandbox)
        const request = yield* validatedRegistration(client)
        const outcome = yield* client.registerPurchase(request)
        assert.strictEqual(outcome._tag, "Registered")
        const s = yield* stats(sandbox)
        assert.strictEqual(s.responses["registerPurchase 201"], 1)
        assert.deepStrictEqual(s.registrations, { [`${request.order_number}:1`]: 1 })
      })
    )
  )

  it.live("201 with parts: one line per part", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        yield* reset(sandbox)
        const base = yield* validatedRegistration(client, { asset_id: 4003, unit_price: 12.5 })
        const request = {
          ...base,
          parts: [4004, 4005, 4006, 4007].map((asset_id, i) => ({ asset_id, order_line_id: i + 2 }))
        }
        assert.strictEqual((yield* client.registerPurchase(request))._tag, "Registered")
        const s = yield* stats(sandbox)
        assert.deepStrictEqual(
          Object.keys(s.registrations).sort(),
          [1, 2, 3, 4, 5].map((line) => `${request.order_number}:${line}`)
        )
        yield* client.purchaseInfo({ order_id: request.order_number })
        const outcome = yield* client.purchaseInfo({ order_id: request.order_number })
        assertTag(outcome, "Completed")
        assert.deepStrictEqual(
          outcome.items.map((item) => [item.order_line_id, item.asset_id, item.status]),
          [
            [1, 4003, "COMPLETED"],
            [2, 4004, "COMPLETED"],
            [3, 4005, "COMPLETED"],
            [4, 4006, "COMPLETED"],
            [5, 4007, "COMPLETED"]
          ]
        )
      })
    )
  )

  it.live("404: a part's asset that does not exist is AssetNotFound", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client, { asset_id: 4003, unit_price: 12.5 })
        const error = yield* failsWith(
          client.registerPurchase({ ...request, parts: [{ asset_id: 3998, order_line_id: 2 }] }),
          "AssetNotFound"
        )
        assert.include(error.message, "3998")
      })
    )
  )

  it.live("409: the same order line again is OrderAlreadyExists", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* client.registerPurchase(request)
        const error = yield* failsWith(client.registerPurchase(request), "OrderAlreadyExists")
        assert.include(error.message, `order ${request.order_number} line 1`)
      })
    )
  )

  it.live("422: PriceMismatch and InvalidToken", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client, { quantity: 3 })
        const mismatch = yield* failsWith(
          client.registerPurchase({ ...request, line_item_price: 3.99 }),
          "ValidationRejected"
        )
        assert.strictEqual(mismatch.reason, "PriceMismatch")
        assert.include(mismatch.message, "line_item_price")
        const invalid = yield* failsWith(
          client.registerPurchase({ ...request, token: "bm90LWEtdG9rZW4=" }),
          "ValidationRejected"
        )
        assert.strictEqual(invalid.reason, "InvalidToken")
        assert.strictEqual(invalid.message, "the validation token is unknown")
        // The correct price goes through.
        assert.strictEqual((yield* client.registerPurchase(request))._tag, "Registered")
      })
    )
  )
})

describe("purchaseInfo", () => {
  it.live("202 Processing, then 200 Completed with COMPLETED items and working URLs", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* client.registerPurchase(request)
        const processing = yield* client.purchaseInfo({ order_id: request.order_number })
        assertTag(processing, "Processing")
        assert.strictEqual(processing.status, "PROCESSING")
        const completed = yield* client.purchaseInfo({ order_id: request.order_number })
        assertTag(completed, "Completed")
        assert.strictEqual(completed.items.length, 1)
        const [item] = completed.items
        assert.isDefined(item)
        if (item === undefined) return
        assert.strictEqual(item.status, "COMPLETED")
        assert.strictEqual(item.order_id, request.order_number)
        assert.strictEqual(item.asset_id, 4000)
        assert.strictEqual(item.country_code, "US")
        assert.strictEqual(item.customer, "John Customer")
        assert.match(item.download_url ?? "", /\/nf\/download\/[0-9a-f]{32}$/)
        assert.match(item.view_url ?? "", /\/nf\/view\/[0-9a-f]{32}$/)
        for (const url of [item.download_url, item.view_url]) {
          const response = yield* Effect.promise(() => fetch(url ?? ""))
          assert.strictEqual(response.status, 200)
        }
      })
    )
  )

  it.live("404: no such order is OrderNotFound", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const order = orderNumber()
        const error = yield* failsWith(client.purchaseInfo({ order_id: order }), "OrderNotFound")
        assert.strictEqual(error.message, `no orders for order_id ${order}`)
      })
    )
  )

  it.live("502: failed processing is the Failed outcome with the server's message, asked once", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const { request, outcome } = yield* registerAndSettle(client, 4999)
        assertTag(outcome, "Failed")
        assert.strictEqual(outcome.status, "FAILED")
        assert.strictEqual(outcome.message, `order ${request.order_number} processing failed`)
      })
    )
  )

  it.live("202 with an empty body, or with no status, is still Processing", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        yield* script(
          sandbox,
          { kind: "custom", endpoint: "purchaseInfo", status: 202, body: "" },
          { kind: "custom", endpoint: "purchaseInfo", status: 202, body: "{}" }
        )
        assert.deepStrictEqual(yield* client.purchaseInfo({ order_id: 78 }), Processing.make({}))
        assert.deepStrictEqual(yield* client.purchaseInfo({ order_id: 78 }), Processing.make({}))
      })
    )
  )

  it.live("an unknown line status (ON_HOLD) is kept as data", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        yield* script(sandbox, {
          kind: "custom",
          endpoint: "purchaseInfo",
          status: 200,
          body: JSON.stringify([
            { order_id: 77, order_line_id: 1, status: "ON_HOLD", download_url: null, view_url: null }
          ])
        })
        const outcome = yield* client.purchaseInfo({ order_id: 77 })
        assertTag(outcome, "Completed")
        assert.strictEqual(outcome.items[0]?.status, "ON_HOLD")
        assert.strictEqual(outcome.items[0]?.download_url, null)
      })
    )
  )
})

describe("downloadUrl / viewUrl / cancelOrderLine", () => {
  it.live("200: download and view URLs that work", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const { request, outcome } = yield* registerAndSettle(client)
        assert.strictEqual(outcome._tag, "Completed")
        const line = { order_id: request.order_number, order_line_id: 1 }
        const download = yield* client.downloadUrl(line)
        const view = yield* client.viewUrl(line)
        assert.match(download.url, /^http:\/\/127\.0\.0\.1:\d+\/nf\/download\/[0-9a-f]{32}$/)
        assert.match(view.url ?? "", /^http:\/\/127\.0\.0\.1:\d+\/nf\/view\/[0-9a-f]{32}$/)
        assert.strictEqual((yield* Effect.promise(() => fetch(download.url))).status, 200)
        assert.strictEqual((yield* Effect.promise(() => fetch(view.url ?? ""))).status, 200)
      })
    )
  )

  it.live("404: unknown order line, and a line not fulfilled yet, are OrderNotFound", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const unknown = { order_id: orderNumber(), order_line_id: 1 }
        yield* failsWith(client.downloadUrl(unknown), "OrderNotFound")
        yield* failsWith(client.viewUrl(unknown), "OrderNotFound")
        const request = yield* validatedRegistration(client)
        yield* client.registerPurchase(request)
        const pending = { order_id: request.order_number, order_line_id: 1 }
        const error = yield* failsWith(client.downloadUrl(pending), "OrderNotFound")
        assert.include(error.message, "not fulfilled")
        yield* failsWith(client.viewUrl({ ...pending, order_line_id: 2 }), "OrderNotFound")
      })
    )
  )

  it.live("cancel: 201, then 400 InvalidOrderStatus the second time; 404 for an unknown line", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* client.registerPurchase(request)
        const line = { order_id: request.order_number, order_line_id: 1 }
        const cancelled = yield* client.cancelOrderLine(line)
        assert.isUndefined(cancelled)
        const again = yield* failsWith(client.cancelOrderLine(line), "InvalidOrderStatus")
        assert.include(again.message, "CANCELLED")
        const missing = yield* failsWith(client.cancelOrderLine({ ...line, order_line_id: 9 }), "OrderNotFound")
        assert.include(missing.message, "no order line 9")
        // The cancelled line shows as data, not as a decode failure.
        const outcome = yield* client.purchaseInfo({ order_id: request.order_number })
        assertTag(outcome, "Completed")
        assert.strictEqual(outcome.items[0]?.status, "CANCELLED")
      })
    )
  )
})

describe("listAssets / assets / health", () => {
  it.live("200: keyset paging", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        const first = yield* client.listAssets({})
        assert.strictEqual(first.assets.length, 20)
        assert.strictEqual(first.assets[0]?.asset_id, 4000)
        assert.strictEqual(first.last_id, first.assets[19]?.asset_id ?? -1)
        assert.isNotNull(first.next_page)
        const page = yield* client.listAssets({ page_size: 50, last_id: first.last_id ?? 0 })
        assert.strictEqual(page.assets.length, 50)
        assert.isTrue((page.assets[0]?.asset_id ?? 0) > (first.last_id ?? 0))
        const last = yield* client.listAssets({ page_size: 100, last_id: 5150 })
        assert.strictEqual(last.assets.length, 49)
        assert.strictEqual(last.last_id, 5199)
        assert.isNull(last.next_page)
        const beyond = yield* client.listAssets({ page_size: 10, last_id: 5199 })
        assert.deepStrictEqual([beyond.assets.length, beyond.last_id, beyond.next_page], [0, null, null])
        const choral = (yield* client.listAssets({ page_size: 2, last_id: 4000 })).assets[0]
        assert.strictEqual(choral?.min_qty, 10)
      })
    )
  )

  it.live("assets(): all 210 assets, in order, exactly once, whatever the page size", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        for (const pageSize of [undefined, 7, 210, 500]) {
          yield* reset(sandbox)
          const all = Chunk.toReadonlyArray(
            yield* Stream.runCollect(client.assets(pageSize === undefined ? {} : { pageSize }))
          )
          const ids = all.map((a) => a.asset_id ?? -1)
          assert.strictEqual(ids.length, 210)
          assert.strictEqual(new Set(ids).size, 210)
          assert.deepStrictEqual(
            ids,
            [...ids].sort((a, b) => a - b)
          )
          assert.strictEqual(ids[0], 4000)
          assert.strictEqual(ids.at(-1), 5199)
          const pages = Math.ceil(210 / (pageSize ?? 20))
          assert.strictEqual((yield* stats(sandbox)).requests.listAssets, pages)
        }
      })
    )
  )

  it.live("health: 200 without auth (a wrong token does not matter, nor does none)", () =>
    withClient(sandbox, wrongToken, (client) =>
      Effect.gen(function* () {
        const items = yield* client.health()
        assert.deepStrictEqual(
          items.map((i) => [i.name, i.health]),
          [
            ["api", true],
            ["dam", true]
          ]
        )
        const raw = yield* Effect.promise(() => fetch(`${sandbox.url}/health`))
        assert.strictEqual(raw.status, 200)
        assert.strictEqual(raw.headers.get("x-environment"), "sandbox")
      })
    )
  )
})

describe("answers nobody documented", () => {
  it.live("an undocumented status (418) is UnexpectedResponse with an excerpt", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        yield* reset(sandbox)
        yield* script(sandbox, { kind: "teapot418", endpoint: "purchaseInfo" })
        const error = yield* failsWith(client.purchaseInfo({ order_id: 1 }), "UnexpectedResponse")
        assert.strictEqual(error.status, 418)
        assert.strictEqual(error.excerpt, "I'm a teapot")
        assert.strictEqual((yield* stats(sandbox)).requests.purchaseInfo, 1)
      })
    )
  )

  for (const endpoint of allEndpoints) {
    it.live(`${endpoint}: a 200 whose body is not the documented JSON is UnexpectedResponse, never a ParseError`, () =>
      withClient(sandbox, {}, (client) =>
        Effect.gen(function* () {
          yield* script(
            sandbox,
            { kind: "custom", endpoint, status: 200, body: "<html>ok</html>" },
            { kind: "custom", endpoint, status: 200, body: JSON.stringify({ unexpected: [1, 2, 3] }) }
          )
          for (const excerpt of ["<html>ok</html>", '{"unexpected":[1,2,3]}']) {
            const result = yield* Effect.either(anyCall[endpoint](client))
            if (endpoint === "registerPurchase" || endpoint === "cancelOrderLine") {
              // 200 is not their documented success (201) either.
              assert.isTrue(result._tag === "Left")
            }
            if (endpoint === "viewUrl" && excerpt.startsWith("{")) {
              // ViewUrl's `url` is optional: an object without it is a valid, empty ViewUrl.
              assert.strictEqual(result._tag, "Right")
              continue
            }
            assert.strictEqual(result._tag, "Left", `${endpoint} accepted ${excerpt}`)
            if (result._tag === "Left") {
              assertTag(result.left, "UnexpectedResponse")
              assert.strictEqual(result.left.status, 200)
              assert.strictEqual(result.left.excerpt, excerpt)
            }
          }
        })
      )
    )
  }

  it.live("a documented error status with a body that is not an ErrorResponse is UnexpectedResponse", () =>
    withClient(sandbox, {}, (client) =>
      Effect.gen(function* () {
        yield* script(sandbox, { kind: "custom", endpoint: "validatePurchase", status: 422, body: "rejected" })
        const error = yield* failsWith(
          client.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 }),
          "UnexpectedResponse"
        )
        assert.deepStrictEqual([error.status, error.excerpt], [422, "rejected"])
      })
    )
  )
})

describe("URLs and tokens expire", () => {
  // Two sandboxes, so a short token TTL cannot expire the tokens the URL test needs.
  let quick: RunningSandbox
  let quickUrls: RunningSandbox
  beforeAll(async () => {
    quick = await startSandbox({ fulfilmentDelay: Duration.zero, validationTokenTtl: Duration.millis(300) })
    quickUrls = await startSandbox({ fulfilmentDelay: Duration.zero, urlTtl: Duration.millis(1500) })
  })
  afterAll(async () => {
    await quick.close()
    await quickUrls.close()
  })

  it.live("422 TokenExpired: registering after the validation token's TTL", () =>
    withClient(quick, {}, (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* liveSleep(400)
        const error = yield* failsWith(client.registerPurchase(request), "ValidationRejected")
        assert.strictEqual(error.reason, "TokenExpired")
        assert.include(error.message, "expired")
      })
    )
  )

  it.live("a download/view URL works until urlTtl, then answers 410", () =>
    withClient(quickUrls, {}, (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* client.registerPurchase(request)
        const outcome = yield* client.purchaseInfo({ order_id: request.order_number })
        assertTag(outcome, "Completed")
        const line = { order_id: request.order_number, order_line_id: 1 }
        const urls = [
          (yield* client.downloadUrl(line)).url,
          (yield* client.viewUrl(line)).url ?? "",
          outcome.items[0]?.download_url ?? ""
        ]
        for (const url of urls) assert.strictEqual((yield* Effect.promise(() => fetch(url))).status, 200)
        yield* liveSleep(1600)
        for (const url of urls) assert.strictEqual((yield* Effect.promise(() => fetch(url))).status, 410)
        // A fresh one works again.
        const fresh = yield* client.downloadUrl(line)
        assert.strictEqual((yield* Effect.promise(() => fetch(fresh.url))).status, 200)
        assert.isTrue(Option.isSome(yield* client.environment))
      })
    )
  )
})
