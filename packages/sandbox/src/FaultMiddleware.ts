/**
 * Applies the configured faults to API requests, counts what the sandbox saw, and stamps
 * `X-Environment` on every success, as HL Connect does.
 */
import { HttpApi, HttpApiBuilder, HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { HlConnectApi } from "@hlconnect/core"
import { Duration, Effect } from "effect"
import { SandboxState } from "./SandboxState.js"

/** `METHOD path` → endpoint name, read off the definition. */
const endpointNames = (() => {
  const names = new Map<string, string>()
  HttpApi.reflect(HlConnectApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => {
      names.set(`${endpoint.method} ${endpoint.path}`, endpoint.name)
    }
  })
  return names
})()

/** The error page nginx sends for a gateway status. */
const gatewayPage = (status: number, reason: string) =>
  `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`
const gatewayResponse = (status: number, reason: string) =>
  HttpServerResponse.html(gatewayPage(status, reason)).pipe(HttpServerResponse.setStatus(status))

const isJson = (body: string) => {
  try {
    JSON.parse(body)
    return true
  } catch {
    return false
  }
}

/** Connections the sandbox itself reset (a fault), so their close is not the client going away. */
const resetHere = new WeakSet<object>()

const resetConnection = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.sync(() => {
    const socket = NodeHttpServerRequest.toIncomingMessage(request).socket
    resetHere.add(socket)
    socket.destroy()
  })

/**
 * Counts the request as abandoned when its connection closes before the answer was written and
 * the sandbox did not reset it: the client aborted or hung up. Only watched: the request goes on
 * as HL Connect's would (a client's timeout does not undo what the server does).
 */
const watchAbandon = (state: SandboxState, request: HttpServerRequest.HttpServerRequest, endpoint: string) => {
  const reply = NodeHttpServerRequest.toServerResponse(request)
  const socket = NodeHttpServerRequest.toIncomingMessage(request).socket
  reply.once("close", () => {
    if (!reply.writableEnded && !resetHere.has(socket)) state.recordAbandoned(endpoint)
  })
}

/**
 * Installed with `HttpApiBuilder.middleware`, which wraps the app *before* the response is
 * written (a `serve(middleware)` would only see responses already sent).
 */
export const FaultMiddlewareLive = HttpApiBuilder.middleware(
  Effect.map(SandboxState, (state) => (app: HttpApp.Default) => faults(state, app))
)

const faults = (state: SandboxState, app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = request.url.split("?", 1)[0] ?? request.url
    const endpoint = endpointNames.get(`${request.method} ${path}`)
    if (endpoint === undefined) return yield* app
    state.recordRequest(endpoint)
    watchAbandon(state, request, endpoint)
    const fault = state.nextFault(endpoint)
    const delay = state.latencyFor(endpoint) + (fault?.delayMillis ?? 0)
    if (delay > 0) yield* Effect.sleep(Duration.millis(delay))
    const respond = (response: HttpServerResponse.HttpServerResponse) => {
      state.recordResponse(endpoint, response.status)
      return response.status >= 200 && response.status < 300
        ? HttpServerResponse.setHeader(response, "x-environment", state.environment)
        : response
    }
    switch (fault?.kind) {
      case "error500":
        return respond(
          HttpServerResponse.unsafeJson(
            { name: "InternalServerError", message: "injected fault", code: 500, status: 500 },
            { status: 500 }
          )
        )
      case "empty500":
        return respond(HttpServerResponse.empty({ status: 500 }))
      case "unavailable503":
        return respond(
          HttpServerResponse.empty({ status: 503, headers: { "retry-after": String(fault.retryAfterSeconds) } })
        )
      case "rateLimit429":
        return respond(
          HttpServerResponse.unsafeJson(
            { name: "TooManyRequests", message: "slow down", code: 429, status: 429 },
            { status: 429, headers: { "retry-after": String(fault.retryAfterSeconds) } }
          )
        )
      case "html502":
        return respond(gatewayResponse(502, "Bad Gateway"))
      case "empty502":
        return respond(HttpServerResponse.empty({ status: 502 }))
      case "timeout408":
        return respond(gatewayResponse(408, "Request Timeout"))
      case "gateway504":
        // The request takes effect; the gateway in front gave up waiting for it.
        yield* Effect.exit(app)
        return respond(gatewayResponse(504, "Gateway Time-out"))
      case "unavailable503After":
        yield* Effect.exit(app)
        return respond(
          HttpServerResponse.empty({ status: 503, headers: { "retry-after": String(fault.retryAfterSeconds) } })
        )
      case "teapot418":
        return respond(HttpServerResponse.text("I'm a teapot", { status: 418 }))
      case "custom":
        return respond(
          HttpServerResponse.text(fault.body, {
            status: fault.status,
            contentType: isJson(fault.body) ? "application/json" : "text/plain"
          })
        )
      case "resetBefore":
        yield* resetConnection(request)
        return HttpServerResponse.empty({ status: 500 })
      case "resetAfter": {
        // The request takes effect; the client never hears of it (its answer is dropped on purpose).
        yield* Effect.exit(app)
        yield* resetConnection(request)
        return HttpServerResponse.empty({ status: 500 })
      }
      case undefined:
        // Typed errors (401, 404, 409 …) become responses only after this middleware, so the
        // final response is counted (and stamped) just before it is written.
        yield* HttpApp.appendPreResponseHandler((_request, response) => Effect.sync(() => respond(response)))
        return yield* app
    }
  })
