/**
 * Retention of the reconciler's own records: every pass that did work is stored as a run with its
 * drift records, so a schedule of a minute adds thousands of rows a week. Runs that ended more
 * than `RECONCILE_RETENTION` ago (default 90 days, as the relay keeps payloads) go with their drift
 * records, every `RECONCILE_RETENTION_INTERVAL` (default hourly), in batches, each its own short
 * transaction, until a batch comes back short. Orders and their lines are never touched; replicas
 * purging at once take disjoint runs. Counted in `reconcile_purged_total{kind}`.
 */
import { type InvalidInput, ReconcileRuns, type StorageError } from "@hlconnect/store"
import { Clock, Config, Duration, Effect, Metric } from "effect"
import * as Metrics from "./Metrics.js"

export interface RetentionSettings {
  /** Runs that ended longer ago than this are deleted, with their drift records. */
  readonly retention: Duration.Duration
  /** How often each replica purges. */
  readonly interval: Duration.Duration
}

const durationBetween = (
  name: string,
  bounds: { readonly min: Duration.Duration; readonly max: Duration.Duration; readonly says: string },
  fallback: Duration.Duration
) =>
  Config.duration(name).pipe(
    Config.validate({
      message: `must be between ${bounds.says}`,
      validation: (d) => Duration.between(d, { minimum: bounds.min, maximum: bounds.max })
    }),
    Config.withDefault(fallback)
  )

/** `RECONCILE_RETENTION` (1 day to 3650 days, default 90 days), `RECONCILE_RETENTION_INTERVAL` (1 second to 1 day, default 1 hour). */
export const RetentionConfig: Config.Config<RetentionSettings> = Config.all({
  // At least a day: a run still `running` after the whole retention is taken for abandoned.
  retention: durationBetween(
    "RECONCILE_RETENTION",
    { min: Duration.days(1), max: Duration.days(3650), says: "1 day and 3650 days" },
    Duration.days(90)
  ),
  interval: durationBetween(
    "RECONCILE_RETENTION_INTERVAL",
    { min: Duration.seconds(1), max: Duration.days(1), says: "1 second and 1 day" },
    Duration.hours(1)
  )
})

/** Runs per delete batch. */
export const batchSize = 500

export interface Purged {
  readonly runs: number
  readonly drifts: number
}

/** Everything past retention, batch after batch; each batch is counted as it goes. */
export const purgeOnce = (
  settings: RetentionSettings
): Effect.Effect<Purged, InvalidInput | StorageError, ReconcileRuns.ReconcileRuns> =>
  Effect.gen(function* () {
    const runs = yield* ReconcileRuns.ReconcileRuns
    // Nothing is older than the epoch (a TestClock starts there).
    const before = Math.max(0, (yield* Clock.currentTimeMillis) - Duration.toMillis(settings.retention))
    const total = { runs: 0, drifts: 0 }
    for (;;) {
      const n = yield* runs.purgeEnded({ before, limit: batchSize })
      total.runs += n.runs
      total.drifts += n.drifts
      yield* Metric.incrementBy(Metric.tagged(Metrics.purged, "kind", "run"), n.runs)
      yield* Metric.incrementBy(Metric.tagged(Metrics.purged, "kind", "drift"), n.drifts)
      if (n.runs < batchSize) break
    }
    if (total.runs > 0) {
      yield* Effect.logInfo("retention: purged runs that ended before the cutoff", {
        ...total,
        endedBefore: new Date(before).toISOString(),
        retention: Duration.format(settings.retention)
      })
    }
    return total
  }).pipe(Effect.withSpan("Retention.purgeOnce"))

/** `purgeOnce` now and every `interval`, forever; a failure is logged and tried again next interval. */
export const loop = (settings: RetentionSettings): Effect.Effect<never, never, ReconcileRuns.ReconcileRuns> =>
  purgeOnce(settings).pipe(
    Effect.catchAllCause((cause) => Effect.logWarning("retention purge failed; trying again next interval", cause)),
    Effect.zipRight(Effect.sleep(settings.interval)),
    Effect.forever
  )
