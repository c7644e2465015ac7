/**
 * Request count and latency per method, route and status, as an
 * `HttpMiddleware` that works the same for `HttpApiBuilder.serve(...)` and
 * `HttpServer.serve(...)`.
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"

export const requestsTotal = Metric.counter("http_server_requests_total", {
  description: "HTTP requests served, by method, route and status.",
  incremental: true
})

export const requestDuration = Metric.histogram(
  "http_server_request_duration_seconds",
  MetricBoundaries.fromIterable([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  "HTTP request latency in seconds, by method, route and status."
)

// Label used for requests no route matched, so scanners cannot blow up the series count.
const unmatchedRoute = "unmatched"

// Path segments that look like identifiers are collapsed so each route stays one series.
const identifierSegment =
  /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[0-9A-Za-z_-]{24,})$/i

/** Collapses identifier-like path segments to `:id` (used when the matched route template is unknown). */
export const normalizePath = (url: string): string => {
  const path = url.split("?")[0] ?? "/"
  return path
    .split("/")
    .map((segment) => (identifierSegment.test(segment) ? ":id" : segment))
    .join("/")
}

/**
 * The router records the matched template (e.g. `/users/:id`) as the `http.route`
 * attribute of the request span, which is this middleware's current span.
 */
const matchedRoute = Effect.map(
  Effect.option(Effect.currentSpan),
  Option.flatMap((span) => {
    const route = span.attributes.get("http.route")
    return typeof route === "string" ? Option.some(route) : Option.none()
  })
)

/**
 * Wraps an app: `HttpApiBuilder.serve(HttpMetrics.middleware)` or
 * `HttpServer.serve(router, HttpMetrics.middleware)`. Compose with others as
 * `(app) => HttpMetrics.middleware(HttpMiddleware.logger(app))`.
 */
export const middleware = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const startedAt = yield* Clock.currentTimeNanos
    const exit = yield* Effect.exit(app)
    const seconds = Number((yield* Clock.currentTimeNanos) - startedAt) / 1e9
    const status = HttpServerError.exitResponse(exit).status
    const route = Option.getOrElse(yield* matchedRoute, () =>
      status === 404 ? unmatchedRoute : normalizePath(request.url)
    )
    const labels = [
      MetricLabel.make("method", request.method),
      MetricLabel.make("route", route),
      MetricLabel.make("status", String(status))
    ]
    yield* Metric.increment(Metric.taggedWithLabels(requestsTotal, labels))
    yield* Metric.update(Metric.taggedWithLabels(requestDuration, labels), seconds)
    return yield* exit
  })
