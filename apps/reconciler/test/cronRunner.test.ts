/**
 * The cron loop on a TestClock: overlapping ticks are skipped (and counted), missed ticks after
 * downtime run once, a bad expression is refused up front.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Metric, Ref, TestClock } from "effect"
import * as Metrics from "../src/Metrics.js"
import { parseCron, runOnSchedule, ticksBetween } from "../src/CronRunner.js"

const counter = (metric: typeof Metrics.skippedRuns) => Effect.map(Metric.value(metric), (state) => state.count)

describe("schedule", () => {
  it.effect("rejects an invalid cron expression with a clear message", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(parseCron("every five minutes"))
      assert.strictEqual(error._tag, "InvalidSchedule")
      assert.match(error.message, /not a cron expression/)
      const ok = yield* parseCron("*/5 * * * *")
      assert.strictEqual(ticksBetween(ok, 0, 60 * 60 * 1000), 12)
    })
  )

  it.effect("a tick while the previous run still goes is skipped, not stacked", () =>
    Effect.gen(function* () {
      const cron = yield* parseCron("* * * * *")
      const started = yield* Ref.make(0)
      const skippedBefore = yield* counter(Metrics.skippedRuns)
      // Each run takes 150 s: longer than two ticks.
      const pass = Effect.zipRight(
        Ref.update(started, (n) => n + 1),
        Effect.sleep(Duration.seconds(150))
      )
      const loop = yield* Effect.fork(runOnSchedule(cron, pass))
      yield* TestClock.adjust(Duration.minutes(1))
      assert.strictEqual(yield* Ref.get(started), 1)
      yield* TestClock.adjust(Duration.minutes(1))
      assert.strictEqual(yield* Ref.get(started), 1, "second tick skipped")
      yield* TestClock.adjust(Duration.minutes(1))
      // The first run started at 1 min and ends at 3.5 min, so the 3 min tick is skipped too.
      assert.strictEqual(yield* Ref.get(started), 1)
      yield* TestClock.adjust(Duration.minutes(1))
      assert.strictEqual(yield* Ref.get(started), 2, "the next free tick runs")
      assert.strictEqual((yield* counter(Metrics.skippedRuns)) - skippedBefore, 2)
      yield* Fiber.interrupt(loop)
    })
  )

  it.effect("after downtime, missed ticks run once, not once per missed tick", () =>
    Effect.gen(function* () {
      const cron = yield* parseCron("*/5 * * * *")
      yield* TestClock.setTime(Duration.toMillis(Duration.hours(10)))
      const started = yield* Ref.make(0)
      const missedBefore = yield* counter(Metrics.missedTicks)
      // Last run two hours ago: 24 ticks were missed.
      const lastRunAt = Duration.toMillis(Duration.hours(8))
      const loop = yield* Effect.fork(
        runOnSchedule(
          cron,
          Ref.update(started, (n) => n + 1),
          { lastRunAt }
        )
      )
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual(yield* Ref.get(started), 1, "one catch-up run")
      assert.strictEqual((yield* counter(Metrics.missedTicks)) - missedBefore, 24)
      yield* TestClock.adjust(Duration.minutes(5))
      assert.strictEqual(yield* Ref.get(started), 2, "then the schedule as usual")
      yield* Fiber.interrupt(loop)
    })
  )
})
