/**
 * HL Connect for every app in the process: one client (one connection pool), talking to the
 * sandbox served in-process, or to the HL Connect `HLCONNECT_BASE_URL` names.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { HlConnect, type HlConnectOptions } from "@hlconnect/core"
import { Sandbox, type SandboxOptions, SandboxServer, SandboxState } from "@hlconnect/sandbox"
import { Health, HttpMetrics, type HttpServing, OpsRoutes } from "@hlconnect/service"
import { Context, Effect, Layer } from "effect"

/** Which HL Connect the apps talk to. */
export class Upstream extends Context.Tag("@hlconnect/launcher/Upstream")<
  Upstream,
  { readonly baseUrl: string; readonly sandbox: boolean }
>() {}

export interface SandboxPlan {
  readonly options: SandboxOptions
  readonly server: Layer.Layer<HttpServing.ServerServices, HttpServing.ListenError>
}

/** The sandbox as its own `main` serves it: the API, docs, controls and ops routes. */
const sandboxLayer = (plan: SandboxPlan): Layer.Layer<SandboxServer, HttpServing.ListenError> =>
  HttpApiBuilder.serve(HttpMetrics.middleware).pipe(
    Layer.provide(Sandbox.SandboxRoutesLive),
    Layer.provide(OpsRoutes.layerForHttpApi),
    Layer.annotateLogs("app", "sandbox"),
    Layer.provideMerge(SandboxServer.Default),
    Layer.provide(SandboxState.Default(plan.options)),
    Layer.provide(Layer.fresh(Health.Health.Default)),
    Layer.provide(plan.server)
  )

/** Against the sandbox, the client's base URL and token are the sandbox's; the other `HLCONNECT_*` settings apply. */
export const sandbox = (
  hlconnect: HlConnectOptions,
  plan: SandboxPlan
): Layer.Layer<HlConnect | Upstream, HttpServing.ListenError> =>
  Layer.unwrapEffect(
    Effect.map(SandboxServer, ({ url }) =>
      Layer.merge(
        HlConnect.layer({
          ...hlconnect,
          baseUrl: url,
          accessToken: plan.options.accessTokens[0] ?? hlconnect.accessToken
        }),
        Layer.succeed(Upstream, { baseUrl: url, sandbox: true })
      )
    )
  ).pipe(Layer.provide(sandboxLayer(plan)))

/** A real HL Connect (`HLCONNECT_BASE_URL`, `HLCONNECT_TOKEN`). */
export const remote = (hlconnect: HlConnectOptions, baseUrl: URL): Layer.Layer<HlConnect | Upstream> =>
  Layer.merge(
    HlConnect.layer({ ...hlconnect, baseUrl }),
    Layer.succeed(Upstream, { baseUrl: baseUrl.href, sandbox: false })
  )
