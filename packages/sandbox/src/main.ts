#!/usr/bin/env node
/**
 * The sandbox on its own: `pnpm --filter @hlconnect/sandbox start` (port from `PORT`, default
 * 4010; settings from `SANDBOX_*`, see SandboxConfig). Unlike the apps, it binds loopback unless
 * `HOST` says otherwise: it is a development tool whose controls must not face a network.
 */
import { HttpApiBuilder } from "@effect/platform"
import { Health, HttpMetrics, HttpServing, launch, loadConfig, OpsRoutes } from "@hlconnect/service"
import { Effect, Layer } from "effect"
import { SandboxRoutesLive, SandboxServer } from "./Sandbox.js"
import { SandboxConfig } from "./SandboxConfig.js"
import { SandboxState } from "./SandboxState.js"

const Announce = Layer.effectDiscard(
  Effect.flatMap(SandboxServer, ({ url }) =>
    Effect.logInfo(
      `HL Connect sandbox ready at ${url} — docs ${url}/docs, OpenAPI ${url}/openapi.json, metrics ${url}/metrics`
    )
  )
)

const SandboxMain = Layer.unwrapEffect(
  Effect.map(loadConfig(SandboxConfig), (options) =>
    HttpApiBuilder.serve(HttpMetrics.middleware).pipe(
      Layer.provide(SandboxRoutesLive),
      Layer.provide(OpsRoutes.layerForHttpApi),
      Layer.merge(Announce),
      Layer.provide(SandboxServer.Default),
      Layer.provide(SandboxState.Default(options)),
      Layer.provide(Health.Health.Default),
      Layer.provide(HttpServing.serverLayerFromConfig(4010, { defaultHost: "127.0.0.1" }))
    )
  )
)

launch(SandboxMain, { name: "sandbox" })
