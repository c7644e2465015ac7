/**
 * The sandbox as layers: in-process for tests (`Sandbox.layerTest`, an ephemeral port) and
 * standalone (`Sandbox.layer({ port })`). It serves HL Connect's API, `/openapi.json`, an
 * interactive `/docs` page, and its own `/_sandbox/*` controls.
 */
import { HttpApiBuilder, HttpApiSwagger, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { AdminRoutesLive } from "./AdminRoutes.js"
import { FaultMiddlewareLive } from "./FaultMiddleware.js"
import { SandboxApiLive } from "./Handlers.js"
import { defaultSandboxOptions, type SandboxOptions } from "./SandboxConfig.js"
import { SandboxState } from "./SandboxState.js"

/** Everything the sandbox serves — HL Connect's API, faults, docs, controls — minus the server itself. */
export const SandboxRoutesLive = Layer.mergeAll(
  FaultMiddlewareLive,
  AdminRoutesLive,
  HttpApiSwagger.layer({ path: "/docs" }),
  HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })
).pipe(Layer.provideMerge(SandboxApiLive))

/** Serves the sandbox on whatever `HttpServer` is provided. */
export const SandboxHttpLive = HttpApiBuilder.serve().pipe(Layer.provide(SandboxRoutesLive))

/** Where a running sandbox listens, e.g. `http://127.0.0.1:41234`. */
export class SandboxServer extends Effect.Service<SandboxServer>()("@hlconnect/sandbox/SandboxServer", {
  effect: Effect.map(HttpServer.HttpServer, (server) => ({
    // Bound to every interface, it is still reached on loopback.
    url: HttpServer.formatAddress(server.address).replace("//0.0.0.0:", "//127.0.0.1:")
  }))
}) {}

const withOptions = (options: Partial<SandboxOptions>) => SandboxState.Default({ ...defaultSandboxOptions, ...options })

/** The sandbox on `port` (0 picks a free one), with its state and address as services. */
export const layer = (options: Partial<SandboxOptions> & { readonly port: number; readonly host?: string }) =>
  SandboxHttpLive.pipe(
    Layer.provideMerge(SandboxServer.Default),
    Layer.provideMerge(withOptions(options)),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: options.port, host: options.host ?? "127.0.0.1" }))
  )

/** For tests: an ephemeral port on loopback; read the address from `SandboxServer`. */
export const layerTest = (options: Partial<SandboxOptions> = {}) => layer({ ...options, port: 0 })
