import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, layer, type Vitest } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Schema from "effect/Schema"
import { Health, HttpMetrics, HttpServing, OpsRoutes } from "../src/index.js"
import { baseUrl, fetchText } from "./utils.js"

class Greetings extends HttpApiGroup.make("greetings").add(
  HttpApiEndpoint.get("hello", "/hello/:name")
    .setPath(Schema.Struct({ name: Schema.String }))
    .addSuccess(Schema.String)
) {}
class SandboxApi extends HttpApi.make("sandbox").add(Greetings) {}

const GreetingsLive = HttpApiBuilder.group(SandboxApi, "greetings", (handlers) =>
  handlers.handle("hello", ({ path }) => Effect.succeed(`hello ${path.name}`))
)

const HttpApiApp = HttpApiBuilder.serve(HttpMetrics.middleware).pipe(
  Layer.provide(HttpApiBuilder.api(SandboxApi).pipe(Layer.provide(GreetingsLive))),
  Layer.provide(OpsRoutes.layerForHttpApi),
  Layer.provideMerge(HttpServing.serverLayer({ port: 0, host: "127.0.0.1" })),
  Layer.provideMerge(Health.Health.Default)
)

const appRouter = HttpRouter.empty.pipe(
  HttpRouter.get("/relay/:id", Effect.succeed(HttpServerResponse.text("relayed")))
)

const PlainRouterApp = HttpServer.serve(HttpRouter.concat(appRouter, OpsRoutes.router), HttpMetrics.middleware).pipe(
  Layer.provideMerge(HttpServing.serverLayer({ port: 0, host: "127.0.0.1" })),
  Layer.provideMerge(Health.Health.Default)
)

type ServerIt = Vitest.MethodsNonLive<Health.Health | HttpServer.HttpServer, true>

// The same ops behaviour is expected whichever way the app is built.
const opsScenarios = (it: ServerIt) => {
  it.effect("GET /health/live answers 200 {status: ok}", () =>
    Effect.gen(function* () {
      const response = yield* fetchText(`${yield* baseUrl}/health/live`)
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(JSON.parse(response.body), { status: "ok" })
    })
  )

  it.effect("GET /health/ready is 200 when every check passes", () =>
    Effect.gen(function* () {
      const health = yield* Health.Health
      yield* health.register("database", Effect.void)
      const response = yield* fetchText(`${yield* baseUrl}/health/ready`)
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(JSON.parse(response.body), { status: "ok", checks: [{ name: "database", ok: true }] })
    })
  )

  it.effect("GET /health/ready is 503 with the failing check named", () =>
    Effect.gen(function* () {
      const health = yield* Health.Health
      yield* health.register("upstream", Effect.fail(new Error("connection refused")))
      const response = yield* fetchText(`${yield* baseUrl}/health/ready`)
      yield* health.unregister("upstream")
      assert.strictEqual(response.status, 503)
      assert.deepStrictEqual(JSON.parse(response.body), {
        status: "degraded",
        checks: [
          { name: "database", ok: true },
          { name: "upstream", ok: false, error: "connection refused" }
        ]
      })
    })
  )

  it.effect("GET /health/ready is 503 when a check times out", () =>
    Effect.gen(function* () {
      const health = yield* Health.Health
      yield* health.register("queue", Effect.never, { timeout: "100 millis" })
      const response = yield* fetchText(`${yield* baseUrl}/health/ready`)
      yield* health.unregister("queue")
      assert.strictEqual(response.status, 503)
      const report = JSON.parse(response.body)
      assert.strictEqual(report.status, "degraded")
      assert.deepStrictEqual(report.checks[1], { name: "queue", ok: false, error: "timed out after 100ms" })
    })
  )

  it.effect("GET /metrics serves the Prometheus text format", () =>
    Effect.gen(function* () {
      const response = yield* fetchText(`${yield* baseUrl}/metrics`)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.contentType, "text/plain; version=0.0.4; charset=utf-8")
      assert.include(response.body, "# TYPE http_server_requests_total counter")
      assert.include(response.body, "# TYPE http_server_request_duration_seconds histogram")
      assert.include(response.body, "# TYPE process_resident_memory_bytes gauge")
    })
  )
}

describe("OpsRoutes", () => {
  layer(HttpApiApp, { excludeTestServices: true })("in an HttpApiBuilder app", (it) => {
    opsScenarios(it)

    it.effect("GET /metrics shows counters, gauges and histograms created by the app", () =>
      Effect.gen(function* () {
        const jobs = Metric.counter("relay_jobs_total", { description: "Jobs relayed." })
        const queueDepth = Metric.gauge("relay_queue_depth")
        const latency = Metric.histogram("relay_latency_seconds", MetricBoundaries.fromIterable([0.1, 1, 10]))
        yield* Metric.incrementBy(Metric.tagged(jobs, "target", 'a "quoted" \\ path\nx'), 3)
        yield* Metric.set(queueDepth, 7)
        for (const seconds of [0.05, 0.5, 0.5, 5, 50]) yield* Metric.update(latency, seconds)

        const { body } = yield* fetchText(`${yield* baseUrl}/metrics`)
        assert.include(body, "# HELP relay_jobs_total Jobs relayed.\n# TYPE relay_jobs_total counter\n")
        assert.include(body, 'relay_jobs_total{target="a \\"quoted\\" \\\\ path\\nx"} 3\n')
        assert.include(body, "# TYPE relay_queue_depth gauge\nrelay_queue_depth 7\n")
        assert.include(
          body,
          [
            "# TYPE relay_latency_seconds histogram",
            'relay_latency_seconds_bucket{le="0.1"} 1',
            'relay_latency_seconds_bucket{le="1"} 3',
            'relay_latency_seconds_bucket{le="10"} 4',
            'relay_latency_seconds_bucket{le="+Inf"} 5',
            "relay_latency_seconds_sum 56.05",
            "relay_latency_seconds_count 5"
          ].join("\n")
        )
      })
    )

    it.effect("the API keeps working and its requests are counted by route template", () =>
      Effect.gen(function* () {
        const url = yield* baseUrl
        const hello = yield* fetchText(`${url}/hello/world`)
        assert.strictEqual(hello.status, 200)
        assert.strictEqual(JSON.parse(hello.body), "hello world")
        const metrics = yield* fetchText(`${url}/metrics`)
        assert.match(
          metrics.body,
          /^http_server_requests_total\{method="GET",route="\/hello\/:name",status="200"\} 1$/m
        )
        assert.match(
          metrics.body,
          /^http_server_request_duration_seconds_count\{method="GET",route="\/hello\/:name",status="200"\} 1$/m
        )
      })
    )
  })

  layer(PlainRouterApp, { excludeTestServices: true })("in a plain HttpRouter app", (it) => {
    opsScenarios(it)

    it.effect("unknown paths are counted under one `unmatched` route", () =>
      Effect.gen(function* () {
        const url = yield* baseUrl
        assert.strictEqual((yield* fetchText(`${url}/relay/42`)).status, 200)
        assert.strictEqual((yield* fetchText(`${url}/no/such/path/123`)).status, 404)
        const metrics = yield* fetchText(`${url}/metrics`)
        assert.match(metrics.body, /^http_server_requests_total\{method="GET",route="\/relay\/:id",status="200"\} 1$/m)
        assert.match(metrics.body, /^http_server_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m)
      })
    )
  })
})
