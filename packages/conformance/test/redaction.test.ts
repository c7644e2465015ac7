/**
 * The bearer token never shows: not in logs (any format, any level), spans, errors (however they
 * are printed), the service or its options. Download/view URLs never end up in errors.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { HlConnect, type HlConnectOptions } from "@hlconnect/core"
import { FaultSettings } from "@hlconnect/sandbox"
import { Cause, Duration, Effect, Exit, Layer, Logger, LogLevel, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { inspect } from "node:util"
import { type RunningSandbox, startSandbox } from "@hlconnect/sandbox"
import {
  assertTag,
  failsWith,
  fastRetries,
  orderNumber,
  recordingTracer,
  reset,
  script,
  setFaults,
  validatedRegistration,
  withClient
} from "./helpers.js"

const secret = `hlc-SECRET-${randomBytes(12).toString("hex")}`
const wrongSecret = `hlc-WRONG-${randomBytes(12).toString("hex")}`

let sandbox: RunningSandbox
beforeAll(async () => {
  sandbox = await startSandbox({ accessTokens: [Redacted.make(secret)], fulfilmentDelay: Duration.zero })
})
afterAll(() => sandbox.close())

/** Every way an error tends to get printed. */
const renderings = (error: unknown): ReadonlyArray<string> => {
  const texts = [
    String(error),
    JSON.stringify(error),
    inspect(error, { depth: 10, showHidden: true }),
    Cause.pretty(Cause.fail(error)),
    Cause.pretty(Cause.die(error))
  ]
  if (error instanceof Error) texts.push(error.message, error.stack ?? "")
  return texts
}

describe("the bearer token appears nowhere", () => {
  it.live("logs, spans, errors, the service and its options, across successes and failures", () => {
    const texts: Array<string> = []
    const logger = Logger.make((options) => {
      texts.push(
        Logger.stringLogger.log(options),
        Logger.logfmtLogger.log(options),
        Logger.jsonLogger.log(options),
        JSON.stringify(Logger.structuredLogger.log(options)),
        Cause.pretty(options.cause)
      )
    })
    const { spans, tracer } = recordingTracer()
    const observed = Layer.mergeAll(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.All))
    const options: HlConnectOptions = {
      ...fastRetries(2),
      baseUrl: sandbox.url,
      accessToken: Redacted.make(secret),
      attemptTimeout: "150 millis"
    }
    texts.push(String(options.accessToken), JSON.stringify(options), inspect(options, { depth: 10, showHidden: true }))

    /** Runs a call, logs and records its outcome in every form. */
    const observe = <A, E>(label: string, call: Effect.Effect<A, E>) =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(call)
        if (Exit.isFailure(exit)) {
          texts.push(Cause.pretty(exit.cause), ...renderings(Cause.squash(exit.cause)))
          yield* Effect.logError(label, Cause.squash(exit.cause))
          yield* Effect.logDebug(label).pipe(Effect.annotateLogs("error", Cause.squash(exit.cause)))
          yield* Effect.logWarning(exit.cause)
        } else {
          yield* Effect.logTrace(label, exit.value)
        }
        return exit
      })

    const program = Effect.gen(function* () {
      const client = yield* HlConnect
      texts.push(String(client), JSON.stringify(client), inspect(client, { depth: 10, showHidden: true }))
      // Successes on every endpoint.
      const request = yield* validatedRegistration(client)
      yield* observe("register", client.registerPurchase(request))
      yield* observe("info", client.purchaseInfo({ order_id: request.order_number }))
      const line = { order_id: request.order_number, order_line_id: 1 }
      yield* observe("download", client.downloadUrl(line))
      yield* observe("view", client.viewUrl(line))
      yield* observe("list", client.listAssets({ page_size: 2 }))
      yield* observe("health", client.health())
      yield* observe("cancel", client.cancelOrderLine(line))
      // Failures: 404, 409, 422, 400, exhausted retries of each kind, a timeout, invalid input.
      yield* observe("404", client.purchaseInfo({ order_id: orderNumber() }))
      yield* observe("409", client.registerPurchase(request))
      yield* observe("422", client.validatePurchase({ asset_id: 4001, customer_ip: "192.0.2.1", quantity: 1 }))
      yield* observe("400", client.cancelOrderLine(line))
      yield* script(sandbox, { kind: "error500", endpoint: "listAssets", times: 2 })
      yield* observe("500s", client.listAssets({}))
      yield* script(sandbox, { kind: "empty500", endpoint: "listAssets", times: 2 })
      yield* observe("empty 500s", client.listAssets({}))
      yield* script(sandbox, { kind: "resetBefore", endpoint: "health", times: 2 })
      yield* observe("resets", client.health())
      yield* script(sandbox, { kind: "rateLimit429", endpoint: "health", times: 2, retry_after_seconds: 0 })
      yield* observe("429s", client.health())
      yield* script(sandbox, { kind: "html502", endpoint: "viewUrl", times: 10 })
      yield* observe("html 502", client.viewUrl(line))
      yield* setFaults(sandbox, FaultSettings.make({ latency_ms: 400, endpoints: ["downloadUrl"] }))
      yield* observe("timeouts", client.downloadUrl(line))
      yield* reset(sandbox)
      yield* observe("invalid", client.registerPurchase({ ...request, customer: "" }))
      const exits = yield* Effect.all([
        observe(
          "mismatch",
          Effect.provide(
            Effect.flatMap(HlConnect, (c) => c.health()),
            HlConnect.Default({ ...options, expectedEnvironment: "production" })
          )
        )
      ])
      texts.push(JSON.stringify(exits))
    })

    const wrong = Effect.flatMap(HlConnect, (client) =>
      Effect.gen(function* () {
        texts.push(inspect(client, { depth: 10, showHidden: true }))
        const calls: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
          client.health(),
          client.listAssets({}),
          client.purchaseInfo({ order_id: 1 })
        ]
        for (const call of calls) {
          const exit = yield* observe("401", call)
          if (Exit.isFailure(exit)) assert.strictEqual(Cause.squash(exit.cause) instanceof Error, true)
        }
      })
    ).pipe(Effect.provide(HlConnect.Default({ ...options, accessToken: Redacted.make(wrongSecret) })))

    return Effect.gen(function* () {
      yield* Effect.provide(program, HlConnect.Default(options))
      yield* wrong
      for (const span of spans) texts.push(span.describe())

      // The capture is real: it holds the calls, their failures and their spans.
      const all = texts.join("\n")
      for (const expected of [
        "HlConnect.registerPurchase",
        "HlConnect.health",
        "Unauthorized",
        "HlConnectUnavailable",
        "AttemptTimedOut",
        "ConnectionFailed",
        "Bad Gateway",
        "EnvironmentMismatch",
        "InvalidRequest",
        "<redacted>"
      ]) {
        assert.include(all, expected)
      }
      assert.isAtLeast(spans.length, 20)
      for (const text of texts) {
        assert.notInclude(text, secret)
        assert.notInclude(text, wrongSecret)
      }
      assert.notInclude(all, "Bearer ")
    }).pipe(Effect.withTracer(tracer), Effect.provide(observed))
  })
})

describe("download/view URLs never end up in errors", () => {
  const url = "https://haldms.halleonard.com/nf/download/0123456789abcdef0123456789abcdef"
  const line = { order_id: 12345, order_line_id: 1 }
  const cases: ReadonlyArray<readonly [string, string, number, string]> = [
    ["an undocumented status, text", "downloadUrl", 418, `your file: ${url} (expires soon)`],
    [
      "an undocumented status, JSON",
      "viewUrl",
      418,
      JSON.stringify({ url, view_url: url.replace("download", "view") })
    ],
    ["escaped slashes (as PHP writes JSON)", "downloadUrl", 418, `{"download_url":"${url.replaceAll("/", "\\/")}"}`],
    ["a 200 of the wrong shape", "downloadUrl", 200, JSON.stringify({ url: [url] })],
    ["a 502 page that links somewhere", "viewUrl", 502, `<a href="${url}">retry</a>`]
  ]
  for (const [what, endpoint, status, body] of cases) {
    it.live(`${what}: the excerpt has the URL redacted`, () =>
      withClient(sandbox, { accessToken: Redacted.make(secret), maxAttempts: 1 }, (client) =>
        Effect.gen(function* () {
          yield* script(sandbox, { kind: "custom", endpoint, status, body })
          const failure = yield* Effect.flip(
            endpoint === "downloadUrl" ? client.downloadUrl(line) : client.viewUrl(line)
          )
          // A gateway status is transient: with one attempt allowed it is the last cause of HlConnectUnavailable.
          const error = failure._tag === "HlConnectUnavailable" ? failure.lastCause : failure
          assertTag(error, "UnexpectedResponse")
          assert.strictEqual(error.status, status)
          assert.include(error.excerpt, "<url redacted>")
          for (const text of renderings(error)) {
            assert.notInclude(text, "haldms.halleonard.com")
            assert.notInclude(text, "0123456789abcdef")
          }
        })
      )
    )
  }

  it.live("a URL the sandbox really issued, echoed in an unexpected answer, is redacted", () =>
    withClient(sandbox, { accessToken: Redacted.make(secret), maxAttempts: 1 }, (client) =>
      Effect.gen(function* () {
        const request = yield* validatedRegistration(client)
        yield* client.registerPurchase(request)
        const issued = yield* client.downloadUrl({ order_id: request.order_number, order_line_id: 1 })
        yield* script(sandbox, { kind: "custom", endpoint: "health", status: 418, body: `moved to ${issued.url}` })
        const error = yield* failsWith(client.health(), "UnexpectedResponse")
        assert.strictEqual(error.excerpt, "moved to <url redacted>")
      })
    )
  )

  it.live("documented errors whose message holds a URL: the message is redacted too", () =>
    withClient(sandbox, { accessToken: Redacted.make(secret), maxAttempts: 1 }, (client) =>
      Effect.gen(function* () {
        const body = JSON.stringify({
          name: "NotFound",
          message: `no such line; your old link was ${url}`,
          code: 404,
          status: 404
        })
        yield* script(sandbox, { kind: "custom", endpoint: "downloadUrl", status: 404, body })
        const notFound = yield* failsWith(client.downloadUrl(line), "OrderNotFound")
        assert.strictEqual(notFound.message, "no such line; your old link was <url redacted>")
        yield* script(sandbox, {
          kind: "custom",
          endpoint: "viewUrl",
          status: 500,
          body: JSON.stringify({ message: `failed to sign ${url}` })
        })
        const unavailable = yield* failsWith(client.viewUrl(line), "HlConnectUnavailable")
        for (const text of renderings(unavailable)) assert.notInclude(text, "haldms.halleonard.com")
      })
    )
  )
})
