import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Ref, TestClock } from "effect"
import { Progress } from "../src/index.js"

/** A writable that records what it was given: a terminal (`isTTY: true`) or a pipe. */
const stream = (isTTY: boolean, columns?: number) => {
  const chunks: Array<string> = []
  return {
    chunks,
    isTTY,
    ...(columns === undefined ? {} : { columns }),
    write: (chunk: string) => {
      chunks.push(chunk)
      return true
    }
  }
}

describe("Progress.countLine: (done, total, elapsed) → line", () => {
  const line = (done: number, total: number, elapsedMs: number) =>
    Progress.countLine({ label: "reconciling", unit: "orders", done, total, elapsedMs })

  it("done of total, percent, rate so far and the time left at that rate", () => {
    assert.strictEqual(line(120, 500, 4000), "reconciling 120/500 orders (24%) · 30.0/s · ETA 13s")
    assert.strictEqual(line(3, 1000, 2000), "reconciling 3/1000 orders (0%) · 1.50/s · ETA 11m05s")
    assert.strictEqual(line(900, 1000, 1000), "reconciling 900/1000 orders (90%) · 900/s · ETA 0.1s")
    assert.strictEqual(line(10, 60_000, 1000), "reconciling 10/60000 orders (0%) · 10.0/s · ETA 1h39m")
  })

  it("no rate or ETA before the first order; done when all are", () => {
    assert.strictEqual(line(0, 500, 1500), "reconciling 0/500 orders (0%) · 2s elapsed")
    assert.strictEqual(line(500, 500, 10_000), "reconciling 500/500 orders (100%) · 50.0/s · done")
    assert.strictEqual(line(0, 0, 0), "reconciling 0/0 orders (100%) · 0.0s elapsed")
  })

  it("more done than expected (work that became due meanwhile) stays at 100%", () => {
    assert.strictEqual(line(12, 10, 1000), "reconciling 12/10 orders (100%) · 12.0/s · done")
  })

  it("stepLine: step i of n, elapsed, the current one", () => {
    assert.strictEqual(
      Progress.stepLine({ label: "chaos: scenario", index: 3, total: 6, elapsedMs: 65_000, current: "faults" }),
      "chaos: scenario 3/6 · 1m05s elapsed · faults"
    )
  })
})

describe("Progress.line and Progress.during", () => {
  it("on a TTY: redrawn in place with \\r and clear-line, log lines above it, a newline at the end", () => {
    const out = stream(true)
    const line = Progress.line(out)
    line.draw("a 1/2")
    line.draw("a 1/2") // unchanged: not written again
    line.above("[10:00:00] INFO something happened")
    line.draw("a 2/2")
    line.end()
    assert.deepStrictEqual(out.chunks, [
      "\ra 1/2\u001b[K",
      "\r\u001b[K[10:00:00] INFO something happened\na 1/2",
      "\ra 2/2\u001b[K",
      "\n"
    ])
  })

  it("not a TTY: no progress bytes; log lines plain", () => {
    const out = stream(false)
    const line = Progress.line(out)
    line.draw("a 1/2")
    line.above("log line")
    line.end()
    assert.deepStrictEqual(out.chunks, ["log line\n"])
  })

  it("cut to the terminal width so \\r can redraw it", () => {
    const out = stream(true, 20)
    Progress.line(out).draw("reconciling 120/500 orders (24%)")
    assert.deepStrictEqual(out.chunks, ["\rreconciling 120/50…\u001b[K"])
  })

  it.effect("during: throttled to one redraw per interval, the final state drawn, then a newline", () =>
    Effect.gen(function* () {
      const out = stream(true)
      const done = yield* Ref.make(0)
      const render = (elapsedMs: number) =>
        Effect.map(Ref.get(done), (n) =>
          Progress.countLine({ label: "x", unit: "items", done: n, total: 20, elapsedMs })
        )
      // 20 items, one every 50 ms of (test) time: 1 s of work, so at most 1 s / 200 ms + 1 timed redraws.
      const work = Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i + 1),
        (i) => Effect.zipRight(Ref.set(done, i), TestClock.adjust(Duration.millis(50))),
        { discard: true }
      )
      yield* Progress.during(out, render, work)
      const redraws = out.chunks.filter((c) => c.startsWith("\r"))
      assert.isAtMost(redraws.length, 1000 / 200 + 2)
      assert.isAtLeast(redraws.length, 3)
      assert.strictEqual(redraws.at(-1), "\rx 20/20 items (100%) · 20.0/s · done\u001b[K")
      assert.strictEqual(out.chunks.at(-1), "\n")
      for (const chunk of redraws) assert.notInclude(chunk, "\n")
    })
  )

  it.effect("during on a pipe: the work alone, nothing written", () =>
    Effect.gen(function* () {
      const out = stream(false)
      const result = yield* Progress.during(out, () => Effect.succeed("never"), Effect.succeed(42))
      assert.strictEqual(result, 42)
      assert.deepStrictEqual(out.chunks, [])
    })
  )
})
