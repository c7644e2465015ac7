/**
 * The definition drives the client: a status added to an endpoint in `Api.ts` reaches the client
 * with no second edit. Shown with an API derived from `HlConnectApi` — `downloadUrl` with one more
 * success status (203) and one more error (410) — served by a real HTTP server: the client built
 * over the derived definition answers both as declared; the one built over `HlConnectApi` (which
 * does not declare them) answers `UnexpectedResponse`.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll } from "vitest"
import {
  AssetsGroup,
  Authorization,
  DownloadUrl,
  HealthGroup,
  HlConnectApi,
  OrderLineQuery,
  OrderNotFoundWire,
  ServerErrorWire,
  UnexpectedResponse
} from "../src/index.js"
import { makeClient } from "../src/Endpoints.js"

class OrderLineGone extends Schema.TaggedError<OrderLineGone>()("OrderLineGone", { message: Schema.String }) {}
const OrderLineGoneWire = Schema.transform(
  Schema.Struct({ message: Schema.String }),
  Schema.typeSchema(OrderLineGone),
  {
    strict: true,
    decode: ({ message }) => new OrderLineGone({ message }),
    encode: ({ message }) => ({ message })
  }
).annotations(HttpApiSchema.annotations({ status: 410 }))

/** `downloadUrl` as `Api.ts` declares it, plus a 203 success and a 410 error. */
const DerivedApi = HttpApi.make("HlConnect")
  .add(
    HttpApiGroup.make("purchase")
      .add(
        HttpApiEndpoint.get("downloadUrl", "/purchase/download-url")
          .setUrlParams(OrderLineQuery)
          .addSuccess(DownloadUrl)
          .addSuccess(DownloadUrl, { status: 203 })
          .addError(OrderNotFoundWire)
          .addError(OrderLineGoneWire)
      )
      .addError(ServerErrorWire)
      .middleware(Authorization)
  )
  .add(AssetsGroup)
  .add(HealthGroup)

let server: Server
let baseUrl = ""
beforeAll(async () => {
  server = createServer((request, response) => {
    const line = new URL(request.url ?? "/", "http://localhost").searchParams.get("order_line_id")
    if (line === "203")
      response
        .writeHead(203, { "content-type": "application/json" })
        .end(JSON.stringify({ url: "https://dam.example/x" }))
    else response.writeHead(410, { "content-type": "application/json" }).end(JSON.stringify({ message: "line gone" }))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const downloadUrl = <Id extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  definition: HttpApi.HttpApi<Id, G, E, R>,
  order_line_id: number
) =>
  Effect.scoped(
    Effect.flatMap(makeClient({ baseUrl, accessToken: Redacted.make("t"), maxAttempts: 1 }, definition), (client) =>
      Effect.either(client.downloadUrl({ order_id: 1, order_line_id }))
    )
  )

describe("the definition drives the client", () => {
  it.effect("an error status added to the endpoint decodes into its tagged error; without it, UnexpectedResponse", () =>
    Effect.gen(function* () {
      const derived = yield* downloadUrl(DerivedApi, 1)
      expect(derived._tag).toBe("Left")
      if (derived._tag === "Left") {
        expect(derived.left).toBeInstanceOf(OrderLineGone)
        expect(derived.left.message).toBe("line gone")
      }
      const original = yield* downloadUrl(HlConnectApi, 1)
      expect(original._tag === "Left" && original.left instanceof UnexpectedResponse && original.left.status).toBe(410)
    })
  )

  it.effect("a success status added to the endpoint decodes as its success; without it, UnexpectedResponse", () =>
    Effect.gen(function* () {
      const derived = yield* downloadUrl(DerivedApi, 203)
      expect(derived._tag === "Right" && derived.right).toBeInstanceOf(DownloadUrl)
      const original = yield* downloadUrl(HlConnectApi, 203)
      expect(original._tag === "Left" && original.left instanceof UnexpectedResponse && original.left.status).toBe(203)
    })
  )
})
