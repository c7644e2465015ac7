/**
 * Operational endpoints every app exposes: liveness, readiness and metrics.
 * Available as a plain `HttpRouter` and as a layer for router tags such as
 * `HttpApiBuilder.Router`.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { Health } from "./Health.js"
import * as Metrics from "./Metrics.js"

// Probes and scrapes must always see fresh results.
const noStore = { "cache-control": "no-store" }

export const livePath = "/health/live"
export const readyPath = "/health/ready"
export const metricsPath = "/metrics"

/** `GET /health/live`: 200 `{"status":"ok"}` while the process serves. */
export const live: Effect.Effect<HttpServerResponse.HttpServerResponse> = Effect.sync(() =>
  HttpServerResponse.unsafeJson({ status: "ok" }, { headers: noStore })
)

/** `GET /health/ready`: the health report, 200 when every check passes, 503 otherwise. */
export const ready: Effect.Effect<HttpServerResponse.HttpServerResponse, never, Health> = Effect.gen(function* () {
  const health = yield* Health
  const report = yield* health.report
  return HttpServerResponse.unsafeJson(report, { status: report.status === "ok" ? 200 : 503, headers: noStore })
})

/** `GET /metrics`: Prometheus text format 0.0.4. */
export const metrics: Effect.Effect<HttpServerResponse.HttpServerResponse> = Effect.map(Metrics.prometheus, (body) =>
  HttpServerResponse.text(body, { contentType: Metrics.contentType, headers: noStore })
)

/** The ops routes for a plain router app: `HttpRouter.concat(appRouter, OpsRoutes.router)`. */
export const router: HttpRouter.HttpRouter<never, Health> = HttpRouter.empty.pipe(
  HttpRouter.get(livePath, live),
  HttpRouter.get(readyPath, ready),
  HttpRouter.get(metricsPath, metrics)
)

/** Adds the ops routes to a router tag (e.g. `HttpRouter.Default` or `HttpApiBuilder.Router`). */
export const layerFor = <Self, Name extends string, E, R>(
  tag: HttpRouter.HttpRouter.TagClass<Self, Name, E, R>
): Layer.Layer<never, never, Health> =>
  tag.use((target) =>
    Effect.flatMap(Health, (health) => target.concat(HttpRouter.provideService(router, Health, health)))
  )

/** The ops routes inside an `HttpApiBuilder` app: `Layer.provide(OpsRoutes.layerForHttpApi)` next to the API groups. */
export const layerForHttpApi: Layer.Layer<never, never, Health> = layerFor(HttpApiBuilder.Router)
