/**
 * How the workflow paces itself: when to look at an order again, and when to give up waiting.
 */
import { Config, Duration } from "effect"

export interface FulfilmentPolicy {
  /** First look after registration. */
  readonly firstCheckDelay: Duration.Duration
  /** Polls back off from `firstCheckDelay` (×2 each time) up to this. */
  readonly maxCheckDelay: Duration.Duration
  /** A line not fulfilled this long after it was created needs attention. */
  readonly fulfilmentDeadline: Duration.Duration
  /** After a transient failure (HL Connect unavailable), retry after this, backing off to `maxCheckDelay`. */
  readonly retryDelay: Duration.Duration
}

export const defaultPolicy: FulfilmentPolicy = {
  firstCheckDelay: Duration.seconds(2),
  maxCheckDelay: Duration.minutes(5),
  fulfilmentDeadline: Duration.hours(24),
  retryDelay: Duration.seconds(5)
}

/** `FULFILMENT_FIRST_CHECK`, `FULFILMENT_MAX_CHECK_DELAY`, `FULFILMENT_DEADLINE`, `FULFILMENT_RETRY_DELAY`. */
export const FulfilmentConfig: Config.Config<FulfilmentPolicy> = Config.all({
  firstCheckDelay: Config.duration("FULFILMENT_FIRST_CHECK").pipe(Config.withDefault(defaultPolicy.firstCheckDelay)),
  maxCheckDelay: Config.duration("FULFILMENT_MAX_CHECK_DELAY").pipe(Config.withDefault(defaultPolicy.maxCheckDelay)),
  fulfilmentDeadline: Config.duration("FULFILMENT_DEADLINE").pipe(Config.withDefault(defaultPolicy.fulfilmentDeadline)),
  retryDelay: Config.duration("FULFILMENT_RETRY_DELAY").pipe(Config.withDefault(defaultPolicy.retryDelay))
})

/** Exponential from `base` by attempt (0, 1, 2 …), capped. */
export const backoff = (base: Duration.Duration, cap: Duration.Duration, attempt: number): number =>
  Math.min(Duration.toMillis(cap), Duration.toMillis(base) * 2 ** Math.min(attempt, 30))
