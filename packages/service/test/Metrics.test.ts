import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { Metrics } from "../src/index.js"

const linesOf = (text: string, name: string) => text.split("\n").filter((line) => line.includes(name))

describe("Metrics.prometheus", () => {
  it.effect("groups every series of a metric under one HELP and TYPE line", () =>
    Effect.gen(function* () {
      const requests = Metric.counter("grouped_requests_total", { description: "Requests\nby route \\ kind." })
      yield* Metric.increment(Metric.tagged(requests, "route", "/a"))
      yield* Metric.incrementBy(Metric.tagged(requests, "route", "/b"), 2)
      const text = yield* Metrics.prometheus
      assert.deepStrictEqual(linesOf(text, "grouped_requests_total"), [
        "# HELP grouped_requests_total Requests\\nby route \\\\ kind.",
        "# TYPE grouped_requests_total counter",
        'grouped_requests_total{route="/a"} 1',
        'grouped_requests_total{route="/b"} 2'
      ])
    })
  )

  it.effect("renders summaries with quantiles, and frequencies as one series per key", () =>
    Effect.gen(function* () {
      const summary = Metric.summary({
        name: "job_duration_ms",
        maxAge: "1 minute",
        maxSize: 100,
        error: 0.01,
        quantiles: [0.5, 0.99]
      })
      for (const value of [10, 20, 30]) yield* Metric.update(summary, value)
      const outcomes = Metric.frequency("job_outcome")
      for (const value of ["ok", "ok", "failed"]) yield* Metric.update(outcomes, value)

      const text = yield* Metrics.prometheus
      const summaryLines = linesOf(text, "job_duration_ms")
      assert.include(summaryLines, "# TYPE job_duration_ms summary")
      // Quantile values are Effect's estimates; the exposition must carry one series per configured quantile.
      assert.match(summaryLines.join("\n"), /^job_duration_ms\{quantile="0.5"\} \d+$/m)
      assert.match(summaryLines.join("\n"), /^job_duration_ms\{quantile="0.99"\} \d+$/m)
      assert.include(summaryLines, "job_duration_ms_sum 60")
      assert.include(summaryLines, "job_duration_ms_count 3")
      const outcomeLines = linesOf(text, "job_outcome")
      assert.include(outcomeLines, "# TYPE job_outcome counter")
      assert.include(outcomeLines, 'job_outcome{key="ok"} 2')
      assert.include(outcomeLines, 'job_outcome{key="failed"} 1')
    })
  )

  it.effect("sanitises metric and label names", () =>
    Effect.gen(function* () {
      yield* Metric.set(Metric.tagged(Metric.gauge("9cache.hit-ratio"), "cache-name", "users"), 0.5)
      const text = yield* Metrics.prometheus
      assert.include(text, '# TYPE _9cache_hit_ratio gauge\n_9cache_hit_ratio{cache_name="users"} 0.5\n')
      assert.match(text, /^process_uptime_seconds \d+(\.\d+)?$/m)
    })
  )
})
