/**
 * Warn, then disable, a subscriber that keeps failing (Svix disables after 5 days of continuous
 * failure; users ask to be warned first). A failing streak starts at the first failed delivery
 * attempt with no success since, and any 2xx ends it. At 50 % and 90 % of
 * `RELAY_SUBSCRIBER_DISABLE_AFTER` the relay logs a warning, counts
 * `relay_subscriber_failure_warnings_total{level}` and shows it on the admin API; the first
 * failure at or after 100 % disables the subscriber with the reason. Its events are not dropped:
 * they are dead-lettered with the reason and go out on `replay` once it is enabled again.
 * Time is Effect's `Clock` throughout, so tests drive it with `TestClock`.
 */
import { type InvalidInput, type NotFound, type StorageError, Subscribers } from "@hlconnect/store"
import { Clock, Duration, Effect, Metric, Option, type Scope } from "effect"
import { failureWarningLevels, type RelayConfig } from "./RelayConfig.js"

export const failureWarnings = Metric.counter("relay_subscriber_failure_warnings_total", {
  description:
    "Warnings that a failing subscriber will be disabled, by level (percent of RELAY_SUBSCRIBER_DISABLE_AFTER).",
  incremental: true
})

/** reason: failing (RELAY_SUBSCRIBER_DISABLE_AFTER reached) or gone (answered 410). */
export const subscribersDisabled = Metric.counter("relay_subscribers_disabled_total", {
  description: "Subscribers disabled by the relay, by reason.",
  incremental: true
})

const iso = (ms: number) => new Date(ms).toISOString()

/** What the admin API shows about a subscriber's failing streak. */
export interface Status {
  readonly failingSince: Option.Option<number>
  readonly lastFailureAt: Option.Option<number>
  /** When the first failed attempt disables it (while enabled and failing). */
  readonly disablesAt: Option.Option<number>
  /** The warning given so far: percent of the disable period, 0 for none. */
  readonly warningLevel: number
}

export const status = (config: RelayConfig, s: Subscribers.Subscriber): Status => ({
  failingSince: s.failingSince,
  lastFailureAt: s.lastFailureAt,
  disablesAt: s.enabled
    ? Option.map(s.failingSince, (t) => t + Duration.toMillis(config.subscriberDisableAfter))
    : Option.none(),
  warningLevel: s.failureWarning
})

type StoreError = NotFound | InvalidInput | StorageError

export interface SubscriberHealth {
  /** A delivery attempt got a 2xx: any failing streak is over. */
  readonly onSuccess: (subscriberId: string) => Effect.Effect<void, InvalidInput | StorageError>
  /** A delivery attempt failed: extend the streak, warn or disable as due. */
  readonly onFailure: (subscriberId: string) => Effect.Effect<void, StoreError>
  /** Warn or disable every failing subscriber as due, and drop rotated-out secrets whose overlap ended. */
  readonly sweep: Effect.Effect<void, InvalidInput | StorageError>
  /** `sweep` every `subscriberCheckInterval`, forever. */
  readonly run: Effect.Effect<never, never, Scope.Scope>
}

export const make = (config: RelayConfig): Effect.Effect<SubscriberHealth, never, Subscribers.Subscribers> =>
  Effect.gen(function* () {
    const subscribers = yield* Subscribers.Subscribers
    const period = Duration.toMillis(config.subscriberDisableAfter)
    const levels = [...failureWarningLevels].sort((a, b) => b - a)

    const evaluate = (s: Subscribers.Subscriber) =>
      Effect.gen(function* () {
        if (!s.enabled || Option.isNone(s.failingSince)) return
        const since = s.failingSince.value
        const deadline = since + period
        const lastFailure = Option.getOrElse(s.lastFailureAt, () => since)
        if (lastFailure >= deadline) {
          const reason = `failing since ${iso(since)} with no successful delivery for ${Duration.format(config.subscriberDisableAfter)} (RELAY_SUBSCRIBER_DISABLE_AFTER); disabled automatically`
          const disabled = yield* subscribers.disableIfStillFailing({
            subscriberId: s.subscriberId,
            failingSince: since,
            reason
          })
          if (disabled) {
            yield* Metric.increment(Metric.tagged(subscribersDisabled, "reason", "failing"))
            yield* Effect.logWarning("subscriber disabled: failing continuously", {
              subscriberId: s.subscriberId,
              failingSince: iso(since),
              disabledAfter: Duration.format(config.subscriberDisableAfter)
            })
          }
          return
        }
        const now = yield* Clock.currentTimeMillis
        const elapsed = now - since
        const level = levels.find((l) => elapsed * 100 >= l * period)
        if (level === undefined || level <= s.failureWarning) return
        const won = yield* subscribers.markFailureWarning({ subscriberId: s.subscriberId, failingSince: since, level })
        if (!won) return
        yield* Metric.increment(Metric.tagged(failureWarnings, "level", String(level)))
        yield* Effect.logWarning(`subscriber failing for ${level} % of the time before it is disabled`, {
          subscriberId: s.subscriberId,
          failingSince: iso(since),
          disablesAt: iso(deadline),
          level
        })
      })

    const onFailure = (subscriberId: string) => Effect.flatMap(subscribers.recordFailure(subscriberId), evaluate)

    const sweep = Effect.gen(function* () {
      const failing = yield* subscribers.listFailing
      yield* Effect.forEach(failing, evaluate, { discard: true })
      const purged = yield* subscribers.purgeExpiredSecrets
      if (purged > 0)
        yield* Effect.logInfo("dropped rotated-out subscriber secrets whose overlap ended", { count: purged })
    })

    const run: Effect.Effect<never, never, Scope.Scope> = sweep.pipe(
      Effect.catchAllCause((cause) =>
        Effect.logError("subscriber health check failed; trying again next interval", cause)
      ),
      Effect.zipRight(Effect.sleep(config.subscriberCheckInterval)),
      Effect.forever
    )

    return { onSuccess: subscribers.recordSuccess, onFailure, sweep, run }
  })
