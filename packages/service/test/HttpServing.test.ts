import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { request } from "node:http"
import * as HttpServing from "../src/HttpServing.js"

interface Answer {
  readonly status: number
  readonly retryAfter: string | undefined
  readonly body: string
}

class NoAnswer extends Error {}

/**
 * One request on a fresh connection. A server that accepts the connection but never answers
 * fails this after `boundMs` (instead of hanging the suite); that is the bug under test.
 */
const probe = (url: string, boundMs = 5_000): Effect.Effect<Answer, NoAnswer> =>
  Effect.async<Answer, NoAnswer>((resume) => {
    const req = request(
      `${url}/probe`,
      { method: "POST", agent: false, headers: { "content-type": "application/json" } },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () =>
          resume(
            Effect.succeed({
              status: res.statusCode ?? 0,
              retryAfter: res.headers["retry-after"],
              body: Buffer.concat(chunks).toString("utf8")
            })
          )
        )
      }
    )
    req.setTimeout(boundMs, () => {
      req.destroy()
      resume(Effect.fail(new NoAnswer(`connection accepted but no answer within ${boundMs} ms`)))
    })
    req.on("error", (error) => resume(Effect.fail(new NoAnswer(`request failed: ${error.message}`))))
    req.end('{"hello":1}')
    return Effect.sync(() => req.destroy())
  })

const serverLayer = HttpServing.serverLayer({ port: 0, host: "127.0.0.1", shutdownGrace: "1 second" })

describe("HttpServing while starting", () => {
  it.live(
    "a request before the app is served is answered 503 + Retry-After (never left hanging); then the app answers",
    () =>
      Effect.gen(function* () {
        const context = yield* Layer.build(serverLayer)
        const server = yield* Effect.provide(HttpServer.HttpServer, context)
        const url = HttpServer.formatAddress(server.address)

        // Listening, but the app's routes are not served yet (the relay is still building them).
        const early = yield* probe(url)
        assert.strictEqual(early.status, 503)
        assert.strictEqual(early.retryAfter, "1")
        assert.include(early.body, "starting")

        // A raw handler registered before serving does not take requests early either.
        const raw = yield* HttpServing.addRawHandler(server, (req, res) => {
          if (req.url !== "/raw") return false
          res.end("raw")
          return true
        })
        assert.isTrue(raw)
        assert.strictEqual((yield* probe(url)).status, 503)

        yield* server.serve(HttpServerResponse.text("served")).pipe(Effect.provide(context))
        const later = yield* probe(url)
        assert.deepStrictEqual([later.status, later.body], [200, "served"])
      }).pipe(Effect.scoped, Effect.provide(Logger.minimumLogLevel(LogLevel.None)))
  )
})

describe("HttpServing when the port cannot be had", () => {
  it.live("a port in use: PortUnavailable naming the address and the variable that sets it", () =>
    Effect.gen(function* () {
      const first = yield* Layer.build(serverLayer)
      const taken = (yield* Effect.provide(HttpServer.HttpServer, first)).address
      if (taken._tag !== "TcpAddress") return assert.fail("not a TCP address")
      const second = HttpServing.serverLayer({ port: taken.port, host: "127.0.0.1", portVariable: "GRAPHQL_PORT" })
      const error = yield* Effect.flip(Layer.build(second))
      assert.strictEqual(error._tag, "PortUnavailable")
      assert.strictEqual(
        error.message,
        `127.0.0.1:${taken.port} is already in use — set GRAPHQL_PORT to another port, or stop the other process`
      )
    }).pipe(Effect.scoped, Effect.provide(Logger.minimumLogLevel(LogLevel.None)))
  )
})
