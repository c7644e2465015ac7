/**
 * The trace context a durable record carries: what is accepted from headers, what a worker makes
 * of a stored one (child of one trace, links across several), and that a bad one is ignored.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as TraceContext from "../src/TraceContext.js"

const trace = (n: number) => n.toString(16).padStart(32, "0")
const span = (n: number) => n.toString(16).padStart(16, "0")
const parent = (t: number, s: number) => `00-${trace(t)}-${span(s)}-01`

/** The span `effect` runs in, as `continueFrom` made it. */
const spanIn = (stored: ReadonlyArray<string | null | undefined>) =>
  Effect.flatMap(Effect.currentSpan, Effect.succeed).pipe(TraceContext.continueFrom("work", stored))

describe("TraceContext", () => {
  it("keeps a well-formed traceparent (and its tracestate), ignores anything else", () => {
    assert.strictEqual(TraceContext.ofHeaders(parent(1, 2), undefined), parent(1, 2))
    assert.strictEqual(
      TraceContext.ofHeaders(` ${parent(1, 2).toUpperCase()} `, "vendor=abc"),
      `${parent(1, 2)}\nvendor=abc`
    )
    for (const bad of [
      undefined,
      "",
      "00-xyz",
      `01-${trace(1)}-${span(2)}-01`,
      `00-${trace(0)}-${span(2)}-01`,
      `00-${trace(1)}-${span(0)}-01`
    ]) {
      assert.strictEqual(TraceContext.ofHeaders(bad, undefined), undefined, String(bad))
    }
    // A tracestate with a line break is dropped, the traceparent kept.
    assert.strictEqual(TraceContext.ofHeaders(parent(1, 2), "a=b\nc"), parent(1, 2))
  })

  it.effect("one stored context: the work is its child", () =>
    Effect.gen(function* () {
      const s = yield* spanIn([parent(7, 8), parent(7, 8)])
      assert.strictEqual(s.traceId, trace(7))
      assert.strictEqual(Option.getOrThrow(s.parent).spanId, span(8))
    })
  )

  it.effect("several records of one trace: a child in that trace", () =>
    Effect.gen(function* () {
      const s = yield* spanIn([parent(7, 8), parent(7, 9), null])
      assert.strictEqual(s.traceId, trace(7))
    })
  )

  it.effect("records from several traces: a new root linked to each (fan-in)", () =>
    Effect.gen(function* () {
      const s = yield* spanIn([parent(7, 8), parent(5, 6)])
      assert.isTrue(Option.isNone(s.parent))
      assert.notStrictEqual(s.traceId, trace(7))
      assert.deepStrictEqual(
        s.links.map((l) => [l.span.traceId, l.span.spanId]),
        [
          [trace(7), span(8)],
          [trace(5), span(6)]
        ]
      )
    })
  )

  it.effect("nothing stored, or something malformed: a plain span, never a failure", () =>
    Effect.gen(function* () {
      const s = yield* spanIn([null, undefined, "garbage"])
      assert.isTrue(Option.isNone(s.parent))
      assert.strictEqual(s.links.length, 0)
    })
  )

  it.effect("the current span's context is what a write stores", () =>
    Effect.gen(function* () {
      assert.isNull(yield* TraceContext.current)
      const [stored, s] = yield* Effect.all([TraceContext.current, Effect.currentSpan]).pipe(Effect.withSpan("write"))
      assert.strictEqual(stored, `00-${s.traceId}-${s.spanId}-01`)
      assert.isTrue(Option.isSome(TraceContext.toSpan(stored)))
    })
  )
})
