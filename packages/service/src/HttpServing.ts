/**
 * The Node HTTP server every app uses, with graceful shutdown: on scope close
 * it stops accepting connections, lets in-flight requests finish within a
 * grace period, then closes whatever is left.
 */
import type * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as Etag from "@effect/platform/Etag"
import type * as HttpPlatform from "@effect/platform/HttpPlatform"
import * as HttpServer from "@effect/platform/HttpServer"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as Schema from "effect/Schema"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import * as ServiceConfig from "./ServiceConfig.js"

export interface ServerOptions {
  readonly port: number
  /** The variable that sets `port` (`PORT`, `GRAPHQL_PORT` …), named when the port cannot be had. */
  readonly portVariable?: string
  /** Interface to bind; Node's default (all interfaces) when omitted. */
  readonly host?: string
  /** Time in-flight requests get to finish on shutdown. Default: 10 seconds. */
  readonly shutdownGrace?: Duration.DurationInput
}

/** What `serverLayer` provides: the server plus the platform services `HttpApiBuilder.serve` / `HttpServer.serve` need. */
export type ServerServices =
  | HttpServer.HttpServer
  | HttpPlatform.HttpPlatform
  | Etag.Generator
  | NodeContext.NodeContext

const defaultGrace = Duration.seconds(10)

/**
 * The address could not be bound: another process listens there (`EADDRINUSE`), or binding it
 * needs a privilege the process lacks (`EACCES`). An operator's problem with an operator's fix,
 * so the message names the address and the variable that sets it.
 */
export class PortUnavailable extends Schema.TaggedError<PortUnavailable>()("PortUnavailable", {
  address: Schema.String,
  variable: Schema.String,
  reason: Schema.Literal("in use", "not permitted")
}) {
  override get message() {
    return this.reason === "in use"
      ? `${this.address} is already in use — set ${this.variable} to another port, or stop the other process`
      : `${this.address} cannot be bound without privileges — set ${this.variable} to a port above 1023`
  }
}

/** Why listening failed: a port that cannot be had, or anything else the platform reports. */
export type ListenError = ServeError | PortUnavailable

const errorCode = (cause: unknown): unknown =>
  typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined

const portProblem = (error: ServeError, options: ServerOptions): Effect.Effect<never, ListenError> => {
  const code = errorCode(error.cause)
  if (code !== "EADDRINUSE" && code !== "EACCES") return Effect.fail(error)
  return Effect.fail(
    new PortUnavailable({
      address: `${options.host ?? "0.0.0.0"}:${options.port}`,
      variable: options.portVariable ?? "PORT",
      reason: code === "EADDRINUSE" ? "in use" : "not permitted"
    })
  )
}

/** Tracks in-flight requests so shutdown knows when it is done draining. */
const trackInFlight = (server: Server) => {
  const inFlight = new Set<ServerResponse>()
  let shuttingDown = false
  server.on("request", (_request, response: ServerResponse) => {
    inFlight.add(response)
    // Once a response is sent during shutdown, its keep-alive connection is idle and must not hold the close.
    response.on("close", () => {
      inFlight.delete(response)
      if (shuttingDown) server.closeIdleConnections()
    })
  })
  return {
    count: () => inFlight.size,
    beginShutdown: () => {
      shuttingDown = true
    }
  }
}

const gracefulClose = (
  server: Server,
  tracker: ReturnType<typeof trackInFlight>,
  grace: Duration.Duration
): Effect.Effect<void> =>
  Effect.gen(function* () {
    if (!server.listening) return
    tracker.beginShutdown()
    yield* Effect.logInfo("shutting down HTTP server", {
      inFlightRequests: tracker.count(),
      grace: Duration.format(grace)
    })
    const closed = Effect.async<void, Error>((resume) => {
      server.close((error) => resume(error === undefined ? Effect.void : Effect.fail(error)))
      server.closeIdleConnections()
    })
    // Finalizers run uninterruptibly; the wait itself must be interruptible for the timeout to cut it short.
    const drained = yield* Effect.timeoutOption(Effect.interruptible(closed), grace)
    if (Option.isNone(drained)) {
      yield* Effect.logWarning("shutdown grace period elapsed, closing remaining connections", {
        inFlightRequests: tracker.count()
      })
      server.closeAllConnections()
    } else {
      yield* Effect.logInfo("HTTP server closed")
    }
  }).pipe(
    // Shutdown must go on regardless; record why the close was not clean.
    Effect.catchAll((error) => Effect.logWarning("closing the HTTP server failed", error.message))
  )

/**
 * Handles a request on the raw `node:http` objects before the Effect app sees it, for hot
 * paths where the per-request cost of the Effect HTTP stack matters; returns false to pass
 * the request on. It must answer every request it takes.
 */
export type RawHandler = (request: IncomingMessage, response: ServerResponse) => boolean

// Keyed by the HttpServer this module made, so the public HttpServer interface stays unchanged.
const rawHandlers = new WeakMap<HttpServer.HttpServer, Array<RawHandler>>()

/**
 * Puts `handler` in front of the app served on `server` until the scope closes. Returns false
 * (and does nothing) when `server` was not made by this module.
 */
export const addRawHandler = (
  server: HttpServer.HttpServer,
  handler: RawHandler
): Effect.Effect<boolean, never, Scope.Scope> =>
  Effect.suspend(() => {
    const handlers = rawHandlers.get(server)
    if (handlers === undefined) return Effect.succeed(false)
    return Effect.as(
      Effect.acquireRelease(
        Effect.sync(() => handlers.push(handler)),
        () =>
          Effect.sync(() => {
            const i = handlers.indexOf(handler)
            if (i >= 0) handlers.splice(i, 1)
          })
      ),
      true
    )
  })

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void
// Listeners of the "request" event are request listeners; Node types them as bare `Function`.
const isRequestListener = (f: unknown): f is RequestListener => typeof f === "function"

/**
 * The answer while no app is served: before `serve` (the app's routes are still being built:
 * the socket listens from the start, so the address is known) and after the served scope has
 * closed. Without it a request would reach a server with no "request" listener and hang.
 */
const notServing = (response: ServerResponse, phase: "starting" | "stopping") => {
  const body = JSON.stringify({
    error: "unavailable",
    message: phase === "starting" ? "the service is starting; retry shortly" : "the service is shutting down"
  })
  response.writeHead(503, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "retry-after": "1",
    "cache-control": "no-store",
    connection: "close"
  })
  response.end(body)
}

/**
 * The server's one request listener: 503 until an app is served, then the raw handlers, then
 * the app. Switching is a single assignment, so there is no moment without an answer.
 */
const makeDispatch = (server: Server, handlers: ReadonlyArray<RawHandler>) => {
  let app: ReadonlyArray<RequestListener> = []
  let served = false
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    if (app.length === 0) return notServing(response, served ? "stopping" : "starting")
    for (const h of handlers) if (h(request, response)) return
    for (const l of app) l.call(server, request, response)
  })
  /** Runs `attach` (the platform's serve) and takes over the listeners it added to "request". */
  return <A, E, R>(attach: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Scope.Scope> =>
    Effect.gen(function* () {
      const before = new Set(server.listeners("request"))
      const result = yield* attach
      const added = server
        .listeners("request")
        .filter((l) => !before.has(l))
        .filter(isRequestListener)
      for (const l of added) server.off("request", l)
      app = [...app, ...added]
      served = true
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          app = app.filter((l) => !added.includes(l))
        })
      )
      return result
    })
}

/** A scoped `HttpServer` whose shutdown drains in-flight requests first; 503 (never silence) until it serves. */
export const make = (options: ServerOptions): Effect.Effect<HttpServer.HttpServer, ListenError, Scope.Scope> =>
  Effect.gen(function* () {
    const server = createServer()
    const tracker = trackInFlight(server)
    const handlers: Array<RawHandler> = []
    // Before listening: from the first connection on, every request gets an answer.
    const serveThrough = makeDispatch(server, handlers)
    const grace = options.shutdownGrace === undefined ? defaultGrace : Duration.decode(options.shutdownGrace)
    const listen = options.host === undefined ? { port: options.port } : { port: options.port, host: options.host }
    const inner = yield* NodeHttpServer.make(() => server, listen).pipe(
      Effect.catchTag("ServeError", (error) => portProblem(error, options))
    )
    const shutdown = yield* Effect.cached(gracefulClose(server, tracker, grace))
    // Fallback when nothing was served; added after the platform's own close, so it runs first.
    yield* Effect.addFinalizer(() => shutdown)
    yield* Effect.logInfo(`listening on ${HttpServer.formatAddress(inner.address)}`)
    const made = HttpServer.make({
      address: inner.address,
      // The drain finalizer is added after the app is attached, so it runs while requests are still handled.
      serve: (app, middleware) =>
        Effect.zipRight(
          serveThrough(middleware === undefined ? inner.serve(app) : inner.serve(app, middleware)),
          Effect.addFinalizer(() => shutdown)
        )
    })
    rawHandlers.set(made, handlers)
    return made
  })

/** `NodeHttpServer.layer` with graceful shutdown and a log line with the listening address. */
export const serverLayer = (options: ServerOptions): Layer.Layer<ServerServices, ListenError> =>
  Layer.mergeAll(Layer.scoped(HttpServer.HttpServer, make(options)), NodeHttpServer.layerContext)

/**
 * `serverLayer` configured from `PORT` (default `defaultPort`), `HOST` (default `defaultHost`, else
 * every interface) and `SHUTDOWN_GRACE` (default 10 seconds).
 */
export const serverLayerFromConfig = (
  defaultPort: number,
  options: { readonly defaultHost?: string } = {}
): Layer.Layer<ServerServices, ListenError | ServiceConfig.InvalidConfiguration> =>
  Layer.unwrapEffect(
    Effect.map(
      ServiceConfig.loadConfig(
        Config.all({
          port: ServiceConfig.port("PORT", defaultPort),
          host: Config.option(Config.string("HOST")).pipe(
            Config.map((host) => Option.orElse(host, () => Option.fromNullable(options.defaultHost)))
          ),
          shutdownGrace: ServiceConfig.shutdownGrace
        })
      ),
      ({ host, port, shutdownGrace }) =>
        serverLayer(Option.isSome(host) ? { port, host: host.value, shutdownGrace } : { port, shutdownGrace })
    )
  )
