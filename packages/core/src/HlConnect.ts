/**
 * The HL Connect client as an Effect service: one method per endpoint of `HlConnectApi`, each a
 * typed Effect with its own retry policy and exactly the tagged errors its endpoint can produce.
 * `Contract.ts` declares the interface; the parts behind it each have a module of their own:
 *
 * - `Endpoints.ts` — the endpoint methods: input validation, the request, the outcome mapping;
 * - `Responses.ts` — each endpoint's status → decoder table, derived from the definition;
 * - `Pipeline.ts` — the call pipeline: in-flight cap, pacing, retries, Retry-After, environment;
 * - `Observability.ts` — the span and the metrics;
 * - `Transport.ts` — one attempt over undici, and the request headers.
 *
 * It does its own response handling, rather than `HttpApiClient`'s, so that every failure keeps its
 * status and headers (Retry-After, X-Environment) and a body that is not the documented JSON
 * becomes `UnexpectedResponse` instead of a raw `ParseError`.
 */
import { type Config, Effect, Layer, type Scope } from "effect"
import { HlConnectApi } from "./Api.js"
import { type HlConnectOptions, HlConnectConfig } from "./ClientConfig.js"
import type { HlConnectService } from "./Contract.js"
import { makeClient } from "./Endpoints.js"

export * from "./Contract.js"

const make = (options: HlConnectOptions): Effect.Effect<HlConnectService, never, Scope.Scope> =>
  makeClient(options, HlConnectApi)

/**
 * The HL Connect client. `HlConnect.Default(options)` (alias `layer`) or `layerConfig()` to read
 * `HLCONNECT_*` environment variables. The layer owns its connection pool and closes it.
 */
export class HlConnect extends Effect.Service<HlConnect>()("@hlconnect/core/HlConnect", {
  scoped: make
}) {
  static readonly layer = (options: HlConnectOptions) => HlConnect.Default(options)
  static readonly layerConfig = (config: Config.Config<HlConnectOptions> = HlConnectConfig) =>
    Layer.unwrapEffect(Effect.map(config, HlConnect.Default))
}
