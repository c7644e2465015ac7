/**
 * Observability: `hlconnect_client_calls_total{endpoint,outcome}`, the call duration histogram,
 * `hlconnect_client_attempts_total`, and one `HlConnect.<endpoint>` span per call.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Metric, type MetricPair, MetricState } from "effect"
import { type RunningSandbox, startSandbox } from "@hlconnect/sandbox"
import { fastRetries, orderNumber, recordingTracer, script, withClient } from "./helpers.js"

let sandbox: RunningSandbox
beforeAll(async () => {
  sandbox = await startSandbox()
})
afterAll(() => sandbox.close())

const tagsOf = (pair: MetricPair.MetricPair.Untyped) =>
  Object.fromEntries(pair.metricKey.tags.map((label) => [label.key, label.value]))

/** The value of a counter / the count of a histogram with these tags, 0 if absent. */
const metricValue = (name: string, tags: Record<string, string>) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const pair = pairs.find(
      (p) =>
        p.metricKey.name === name &&
        Object.entries(tags).every(([k, v]) => tagsOf(p)[k] === v) &&
        p.metricKey.tags.length === Object.keys(tags).length
    )
    if (pair === undefined) return 0
    const state = pair.metricState
    if (MetricState.isCounterState(state)) return Number(state.count)
    if (MetricState.isHistogramState(state)) return state.count
    return Number.NaN
  })

describe("metrics", () => {
  it.live("calls_total by endpoint and outcome, the duration histogram, attempts_total", () =>
    withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        const before = {
          ok: yield* metricValue("hlconnect_client_calls_total", { endpoint: "health", outcome: "success" }),
          notFound: yield* metricValue("hlconnect_client_calls_total", {
            endpoint: "purchaseInfo",
            outcome: "OrderNotFound"
          }),
          unavailable: yield* metricValue("hlconnect_client_calls_total", {
            endpoint: "listAssets",
            outcome: "HlConnectUnavailable"
          }),
          duration: yield* metricValue("hlconnect_client_call_duration_seconds", { endpoint: "health" }),
          attempts: yield* metricValue("hlconnect_client_attempts_total", { endpoint: "listAssets" })
        }
        yield* client.health()
        yield* client.health()
        yield* Effect.either(client.purchaseInfo({ order_id: orderNumber() }))
        yield* script(sandbox, { kind: "error500", endpoint: "listAssets", times: 3 })
        yield* Effect.either(client.listAssets({}))
        assert.strictEqual(
          yield* metricValue("hlconnect_client_calls_total", { endpoint: "health", outcome: "success" }),
          before.ok + 2
        )
        assert.strictEqual(
          yield* metricValue("hlconnect_client_calls_total", { endpoint: "purchaseInfo", outcome: "OrderNotFound" }),
          before.notFound + 1
        )
        assert.strictEqual(
          yield* metricValue("hlconnect_client_calls_total", {
            endpoint: "listAssets",
            outcome: "HlConnectUnavailable"
          }),
          before.unavailable + 1
        )
        assert.strictEqual(
          yield* metricValue("hlconnect_client_call_duration_seconds", { endpoint: "health" }),
          before.duration + 2
        )
        assert.strictEqual(
          yield* metricValue("hlconnect_client_attempts_total", { endpoint: "listAssets" }),
          before.attempts + 3
        )
        const names = new Set((yield* Metric.snapshot).map((p) => p.metricKey.name))
        for (const name of [
          "hlconnect_client_calls_total",
          "hlconnect_client_call_duration_seconds",
          "hlconnect_client_attempts_total"
        ]) {
          assert.isTrue(names.has(name), name)
        }
      })
    )
  )
})

describe("spans", () => {
  it.live("one HlConnect.<endpoint> client span per call, retries included, failures marked", () => {
    const { spans, tracer } = recordingTracer()
    return withClient(sandbox, fastRetries(3), (client) =>
      Effect.gen(function* () {
        yield* client.health()
        yield* client.listAssets({ page_size: 1 })
        yield* Effect.either(client.purchaseInfo({ order_id: orderNumber() }))
        yield* script(sandbox, { kind: "error500", endpoint: "viewUrl" })
        yield* Effect.either(client.viewUrl({ order_id: orderNumber(), order_line_id: 1 }))
        yield* Effect.either(client.downloadUrl({ order_id: -1, order_line_id: 1 }))
      })
    ).pipe(
      Effect.withTracer(tracer),
      Effect.andThen(() => {
        const ours = spans.filter((s) => s.name.startsWith("HlConnect."))
        assert.deepStrictEqual(
          ours.map((s) => s.name),
          ["HlConnect.health", "HlConnect.listAssets", "HlConnect.purchaseInfo", "HlConnect.viewUrl"],
          "one span per call; invalid input sends nothing and opens no span"
        )
        for (const span of ours) {
          assert.strictEqual(span.kind, "client")
          assert.strictEqual(span.attributes.get("hlconnect.endpoint"), span.name.slice("HlConnect.".length))
          assert.strictEqual(span.status._tag, "Ended")
        }
        assert.strictEqual(ours[0]?.attributes.get("http.request.method"), "GET")
        const exits = ours.map((s) => (s.status._tag === "Ended" ? Exit.isSuccess(s.status.exit) : undefined))
        // viewUrl: a 500, then the retry's 404 — still one span for the call.
        assert.deepStrictEqual(exits, [true, true, false, false])
      })
    )
  })
})
