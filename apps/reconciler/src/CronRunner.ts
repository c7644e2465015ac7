/**
 * Runs passes on a cron schedule. Overlap policy: skip (a tick while a pass still runs is dropped,
 * with a warning and a metric, never stacked). Missed ticks (process down, event loop stalled)
 * are caught up with ONE run, never one per missed tick.
 */
import { Clock, Cron, Data, Duration, Effect, Either, Metric } from "effect"
import * as Metrics from "./Metrics.js"

export class InvalidSchedule extends Data.TaggedError("InvalidSchedule")<{
  readonly expression: string
  readonly reason: string
}> {
  override get message() {
    return `--schedule ${JSON.stringify(this.expression)} is not a cron expression: ${this.reason}`
  }
}

export const parseCron = (expression: string): Effect.Effect<Cron.Cron, InvalidSchedule> =>
  Either.match(Cron.parse(expression), {
    onLeft: (error) => Effect.fail(new InvalidSchedule({ expression, reason: error.message })),
    onRight: Effect.succeed
  })

/** Cron ticks in (from, to], counted up to `cap`. */
export const ticksBetween = (cron: Cron.Cron, from: number, to: number, cap = 1000): number => {
  let count = 0
  for (const tick of Cron.sequence(cron, new Date(from))) {
    if (tick.getTime() > to || count >= cap) break
    count++
  }
  return count
}

export interface ScheduleOptions {
  /** When the last stored run started: a tick since then was missed while we were down. */
  readonly lastRunAt?: number
  /** Log each tick's start at Debug instead of Info (a schedule of a few seconds would flood the log). */
  readonly quietTicks?: boolean
}

/** Never returns: sleeps to each tick and starts `pass` unless the previous one still runs. */
export const runOnSchedule = <E, R>(
  cron: Cron.Cron,
  pass: Effect.Effect<void, E, R>,
  options: ScheduleOptions = {}
): Effect.Effect<never, never, R> =>
  Effect.gen(function* () {
    let running = false
    const trigger = (reason: string) =>
      Effect.gen(function* () {
        if (running) {
          yield* Metric.increment(Metrics.skippedRuns)
          return yield* Effect.logWarning(`skipping scheduled run (${reason}): the previous run is still going`)
        }
        running = true
        const started = `scheduled run starting (${reason})`
        yield* options.quietTicks === true ? Effect.logDebug(started) : Effect.logInfo(started)
        // A child of the loop: interrupted with it on shutdown.
        yield* Effect.fork(
          pass.pipe(
            Effect.catchAllCause((cause) => Effect.logError("scheduled run failed", cause)),
            Effect.ensuring(
              Effect.sync(() => {
                running = false
              })
            )
          )
        )
      })

    // Expose the counters at 0 from the start, so an alert on "skipped > 0" has a series to watch.
    yield* Metric.incrementBy(Metrics.skippedRuns, 0)
    yield* Metric.incrementBy(Metrics.missedTicks, 0)
    const start = yield* Clock.currentTimeMillis
    if (options.lastRunAt !== undefined) {
      const missed = ticksBetween(cron, options.lastRunAt, start)
      if (missed > 0) {
        yield* Metric.incrementBy(Metrics.missedTicks, missed)
        yield* Effect.logWarning(`${missed} scheduled run(s) missed while down; running once now`)
        yield* trigger("catch-up")
      }
    }
    return yield* Effect.forever(
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const tick = Cron.next(cron, new Date(now)).getTime()
        yield* Effect.sleep(Duration.millis(Math.max(0, tick - now)))
        const woke = yield* Clock.currentTimeMillis
        const missed = ticksBetween(cron, tick, woke)
        if (missed > 0) {
          yield* Metric.incrementBy(Metrics.missedTicks, missed)
          yield* Effect.logWarning(
            `woke ${Duration.format(Duration.millis(woke - tick))} late: ${missed} tick(s) missed; running once`
          )
        }
        yield* trigger(new Date(tick).toISOString())
      })
    )
  })
