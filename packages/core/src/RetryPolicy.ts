/**
 * Retry policies, one per endpoint. Only transient failures are retried, on every endpoint:
 * connection errors and resets, attempt timeouts, and the statuses the infrastructure in front of
 * HL Connect answers with — 408, 429, 500, 502, 503, 504, whatever their body (HTML, empty, JSON);
 * 429 and 503 wait at least `Retry-After`. The one exception is info's 502 whose body is HL
 * Connect's own `OrderProcessingFailedResponse`: the order failed, an answer and not a fault (the
 * client decides that per response, not per status).
 */
import { Duration, Effect, Either, Schedule } from "effect"
import { RateLimited, type TransientFailure } from "./Errors.js"

export interface RetryPolicy {
  /** Attempts in all, the first included. 1 disables retries. */
  readonly maxAttempts: number
  /** First backoff delay; doubles each retry, ±20 % jitter. */
  readonly baseDelay: Duration.Duration
  /** Cap on a single backoff delay (Retry-After may exceed it: the server's word wins). */
  readonly maxDelay: Duration.Duration
  /** Cap on the time spent retrying, from the first failure. */
  readonly maxElapsed: Duration.Duration
  /** Deadline for one attempt: connect, send, headers and body. */
  readonly attemptTimeout: Duration.Duration
}

export const EndpointNames = [
  "validatePurchase",
  "registerPurchase",
  "purchaseInfo",
  "downloadUrl",
  "viewUrl",
  "cancelOrderLine",
  "listAssets",
  "health"
] as const
export type EndpointName = (typeof EndpointNames)[number]

const policy = (
  maxAttempts: number,
  baseDelay: Duration.DurationInput,
  maxDelay: Duration.DurationInput,
  maxElapsed: Duration.DurationInput,
  attemptTimeout: Duration.DurationInput
): RetryPolicy => ({
  maxAttempts,
  baseDelay: Duration.decode(baseDelay),
  maxDelay: Duration.decode(maxDelay),
  maxElapsed: Duration.decode(maxElapsed),
  attemptTimeout: Duration.decode(attemptTimeout)
})

/**
 * The defaults. Calls a customer waits on (validate, URLs) give up sooner; calls a worker makes
 * in the background (register, cancel, catalog) persist longer.
 */
export const DefaultRetryPolicies: Readonly<Record<EndpointName, RetryPolicy>> = {
  validatePurchase: policy(3, "200 millis", "2 seconds", "10 seconds", "10 seconds"),
  registerPurchase: policy(5, "250 millis", "5 seconds", "30 seconds", "10 seconds"),
  purchaseInfo: policy(4, "200 millis", "3 seconds", "15 seconds", "10 seconds"),
  downloadUrl: policy(3, "200 millis", "2 seconds", "10 seconds", "10 seconds"),
  viewUrl: policy(3, "200 millis", "2 seconds", "10 seconds", "10 seconds"),
  cancelOrderLine: policy(5, "250 millis", "5 seconds", "30 seconds", "10 seconds"),
  listAssets: policy(4, "500 millis", "5 seconds", "30 seconds", "15 seconds"),
  health: policy(2, "100 millis", "1 second", "5 seconds", "5 seconds")
}

/** Statuses whose response is worth another attempt, whatever its body (Effect's own transient list). */
export const RetryableStatuses: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504])

export const isTransient = (error: { readonly _tag: string }): error is TransientFailure => {
  switch (error._tag) {
    case "ServerError":
    case "RateLimited":
    case "ConnectionFailed":
    case "AttemptTimedOut":
      return true
    case "UnexpectedResponse":
      return "status" in error && typeof error.status === "number" && RetryableStatuses.has(error.status)
    default:
      return false
  }
}

/**
 * The schedule for one policy, fed with the transient failure that triggered each retry:
 * exponential from `baseDelay` with jitter, each delay capped at `maxDelay`, raised to the
 * server's `Retry-After` when it sent one, at most `maxAttempts - 1` retries within `maxElapsed`.
 */
export const retrySchedule = (policy: RetryPolicy): Schedule.Schedule<unknown, { readonly _tag: string }> => {
  const backoff = Schedule.exponential(policy.baseDelay).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((delay) => Duration.min(delay, policy.maxDelay))
  )
  const atLeastRetryAfter = Schedule.identity<{ readonly _tag: string }>().pipe(
    Schedule.addDelay((failure) =>
      failure instanceof RateLimited && failure.retryAfterMillis !== undefined
        ? Duration.millis(failure.retryAfterMillis)
        : Duration.zero
    )
  )
  const retries = atLeastRetryAfter.pipe(
    Schedule.intersect(backoff),
    Schedule.intersect(Schedule.recurs(Math.max(0, policy.maxAttempts - 1)))
  )
  // `maxElapsed` bounds when a retry would start, its wait included: a Retry-After (or backoff)
  // that ends past the cap gives up now instead of sleeping beyond it.
  return Schedule.delays(retries).pipe(
    Schedule.intersect(Schedule.elapsed),
    Schedule.whileOutput(([delay, elapsed]) =>
      Duration.lessThanOrEqualTo(Duration.sum(elapsed, delay), policy.maxElapsed)
    )
  )
}

/**
 * `Effect.retry(attempt, { schedule, while: isRetryable })`, entered only once an attempt has
 * failed retryably: that first failure is replayed into `Effect.retry`, so the schedule is stepped
 * with every retryable failure exactly as if it had run from the start (its delay slept, the last
 * failure kept when it is done), other failures pass through untouched — and a call that succeeds
 * at once never builds a schedule driver (`Effect.retry` makes one up front: ~20–40 µs of CPU per
 * call, shared/guides/client-performance.md).
 */
export const retryWhile = <A, E, T extends E>(
  attempt: Effect.Effect<A, E>,
  schedule: Schedule.Schedule<unknown, T>,
  isRetryable: (failure: E) => failure is T
): Effect.Effect<A, E> =>
  Effect.catchIf(attempt, isRetryable, (first) => {
    let replay = true
    // Failures that are not retryable leave through the success channel, so that the schedule is
    // fed only with the retryable ones it is typed for.
    const again = Effect.suspend((): Effect.Effect<Either.Either<A, E>, T> => {
      if (!replay) {
        return Effect.matchEffect(attempt, {
          onSuccess: (a) => Effect.succeed(Either.right(a)),
          onFailure: (e) => (isRetryable(e) ? Effect.fail(e) : Effect.succeed(Either.left(e)))
        })
      }
      replay = false
      return Effect.fail(first)
    })
    return Effect.flatten(Effect.retry(again, schedule))
  })

/**
 * `Retry-After` is either delta-seconds or an HTTP-date. Returns milliseconds to wait, if any.
 */
export const parseRetryAfter = (value: string | undefined, nowMillis: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMillis)
}
