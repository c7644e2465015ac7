/**
 * Retention of runs, on a real SQLite store with the TestClock: the loop purges runs (and their
 * drift records) that ended more than RECONCILE_RETENTION ago, at once and every interval, counts
 * them, and leaves recent runs alone; its settings are checked at start-up.
 */
import { assert, describe, it } from "@effect/vitest"
import { ReconcileRuns } from "@hlconnect/store"
import { ConfigProvider, Duration, Effect, Metric, TestClock } from "effect"
import * as Metrics from "../src/Metrics.js"
import * as Retention from "../src/Retention.js"
import { sqliteEngine } from "./support/env.js"

const settings: Retention.RetentionSettings = { retention: Duration.days(1), interval: Duration.hours(1) }

/** A run that examined one order and recorded one drift, ended now. */
const finishedRun = Effect.gen(function* () {
  const runs = yield* ReconcileRuns.ReconcileRuns
  const run = yield* runs.start
  yield* runs.recordDrift({
    runId: run.runId,
    orderNumber: "4242",
    expected: "registered",
    observed: "completed",
    action: "transition",
    result: "completed"
  })
  return yield* runs.finish({ runId: run.runId, status: "completed", examined: 1, drifted: 1, repaired: 1, failed: 0 })
})

const purgedCount = (kind: "run" | "drift") =>
  Effect.map(Metric.value(Metric.tagged(Metrics.purged, "kind", kind)), (c) => c.count)

describe("retention of reconcile runs", () => {
  it.scoped("the loop purges what ended before the cutoff, now and every interval; recent runs stay", () =>
    Effect.gen(function* () {
      const runs = yield* ReconcileRuns.ReconcileRuns
      const runsBefore = yield* purgedCount("run")
      const driftsBefore = yield* purgedCount("drift")
      const old = yield* finishedRun
      yield* TestClock.adjust(Duration.hours(20))
      const younger = yield* finishedRun

      // Started when `old` is 30 hours old: it goes at once, `younger` (10 hours) stays.
      yield* TestClock.adjust(Duration.hours(10))
      yield* Effect.forkScoped(Retention.loop(settings))
      yield* TestClock.adjust(Duration.millis(1))
      assert.deepStrictEqual(
        (yield* runs.listRuns(10)).map((r) => r.runId),
        [younger.runId]
      )
      assert.deepStrictEqual(yield* runs.driftsOf(old.runId), [])
      assert.strictEqual((yield* purgedCount("run")) - runsBefore, 1)
      assert.strictEqual((yield* purgedCount("drift")) - driftsBefore, 1)

      // 14 hours later `younger` is a day old; the next hourly purge takes it.
      yield* TestClock.adjust(Duration.hours(15))
      assert.deepStrictEqual(yield* runs.listRuns(10), [])
      assert.strictEqual((yield* purgedCount("run")) - runsBefore, 2)
      assert.strictEqual((yield* purgedCount("drift")) - driftsBefore, 2)
    }).pipe(Effect.provide(sqliteEngine.store()))
  )

  it.effect("purgeOnce goes batch after batch until one comes back short", () =>
    Effect.gen(function* () {
      const runs = yield* ReconcileRuns.ReconcileRuns
      const many = Retention.batchSize + 3
      yield* Effect.forEach(Array.from({ length: many }), () => finishedRun, { discard: true })
      yield* TestClock.adjust(Duration.days(2))
      const recent = yield* finishedRun
      assert.deepStrictEqual(yield* Retention.purgeOnce(settings), { runs: many, drifts: many })
      assert.deepStrictEqual(
        (yield* runs.listRuns(10)).map((r) => r.runId),
        [recent.runId]
      )
    }).pipe(Effect.provide(sqliteEngine.store()))
  )

  it.effect("RECONCILE_RETENTION and RECONCILE_RETENTION_INTERVAL: defaults, and both bad values named at once", () =>
    Effect.gen(function* () {
      const from = (env: Record<string, string>) =>
        Effect.withConfigProvider(Retention.RetentionConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))
      const defaults = yield* from({})
      assert.deepStrictEqual(
        [Duration.toMillis(defaults.retention), Duration.toMillis(defaults.interval)],
        [Duration.toMillis(Duration.days(90)), Duration.toMillis(Duration.hours(1))]
      )
      const bad = yield* from({ RECONCILE_RETENTION: "2 hours", RECONCILE_RETENTION_INTERVAL: "2 days" }).pipe(
        Effect.flip
      )
      assert.match(String(bad), /RECONCILE_RETENTION\b.*must be between 1 day/s)
      assert.match(String(bad), /RECONCILE_RETENTION_INTERVAL.*must be between 1 second and 1 day/s)
    })
  )
})
