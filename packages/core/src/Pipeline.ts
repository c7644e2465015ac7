/**
 * The call pipeline every endpoint shares: attempts within the in-flight cap and the pace, the
 * answers that mean "wait and retry" (429/503 with Retry-After), the environment check, and the
 * retries per the endpoint's policy while the failure is transient. What is not configured costs
 * nothing: without `requestsPerSecond` there is no rate limiter, and a call that succeeds at once
 * never builds a schedule driver.
 */
import { Clock, Duration, Effect, type Either, Option, RateLimiter, type Scope, type Tracer } from "effect"
import type { Dispatcher } from "undici"
import type { HlConnectOptions } from "./ClientConfig.js"
import {
  EnvironmentMismatch,
  HlConnectUnavailable,
  RateLimited,
  type TransientFailure,
  type UnexpectedResponse
} from "./Errors.js"
import { makeObserver, type SpanAttributes } from "./Observability.js"
import {
  type EndpointName,
  isTransient,
  parseRetryAfter,
  type RetryPolicy,
  retrySchedule,
  retryWhile
} from "./RetryPolicy.js"
import { type PreparedRequest, type RawResponse, sendInSpan } from "./Transport.js"

/** Failures any call can end with once its own answers are exhausted. */
export type CallError = HlConnectUnavailable | UnexpectedResponse | EnvironmentMismatch

const firstHeader = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]

/**
 * Paces attempts to `requestsPerSecond` with Effect's `RateLimiter` (token bucket: the first
 * attempt goes at once, the next when its slot comes); the identity when no rate is set. Rates
 * above 100/s take tokens in 10 ms windows, since the limiter's resolution is a millisecond.
 */
const makePacing = (
  requestsPerSecond: number | undefined
): Effect.Effect<<A, E>(attempt: Effect.Effect<A, E>) => Effect.Effect<A, E>, never, Scope.Scope> => {
  if (requestsPerSecond === undefined) return Effect.succeed((attempt) => attempt)
  const limit = Math.max(1, Math.ceil(requestsPerSecond / 100))
  return RateLimiter.make({
    limit,
    interval: Duration.millis((limit * 1000) / requestsPerSecond),
    algorithm: "token-bucket"
  })
}

export interface PipelineOptions {
  readonly options: HlConnectOptions
  readonly dispatcher: Dispatcher
  readonly origin: string
  readonly policyOf: (endpoint: EndpointName) => RetryPolicy
}

/** Builds the pipeline of one client: its in-flight cap, its pace, and a caller per endpoint. */
export const makeCallPipeline = ({ options, dispatcher, origin, policyOf }: PipelineOptions) =>
  Effect.gen(function* () {
    const inFlight = yield* Effect.makeSemaphore(options.maxInFlight ?? 64)
    const paced = yield* makePacing(options.requestsPerSecond)
    // A free permit is taken at once (`withPermits` always suspends the fiber to take one, ~10
    // steps of the runtime per attempt); only when none is free does the attempt wait in line.
    const withinLimits = <A, E>(attempt: Effect.Effect<A, E>) => {
      const limited = paced(attempt)
      return Effect.flatMap(
        inFlight.withPermitsIfAvailable(1)(limited),
        Option.match({ onNone: () => inFlight.withPermits(1)(limited), onSome: Effect.succeed })
      )
    }

    let observedEnvironment: string | undefined
    const expectedEnvironment = options.expectedEnvironment
    const checkEnvironment = (response: RawResponse): EnvironmentMismatch | undefined => {
      const environment = firstHeader(response.headers["x-environment"])
      if (environment !== undefined) observedEnvironment = environment
      return expectedEnvironment === undefined || environment === expectedEnvironment
        ? undefined
        : new EnvironmentMismatch({ expected: expectedEnvironment, actual: environment ?? null })
    }

    /** The statuses every endpoint shares, before the endpoint's own reading. */
    const answer = <A, E>(
      response: RawResponse,
      handle: (response: RawResponse) => Either.Either<A, E>
    ): Effect.Effect<A, E | RateLimited | EnvironmentMismatch> => {
      const status = response.status
      if (status === 429 || status === 503) {
        // An HTTP-date Retry-After is relative to Effect's clock (so TestClock governs it too).
        return Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const retryAfter = parseRetryAfter(firstHeader(response.headers["retry-after"]), now)
          return Effect.fail(
            new RateLimited(retryAfter === undefined ? { status } : { status, retryAfterMillis: retryAfter })
          )
        })
      }
      if (status >= 200 && status < 300) {
        const mismatch = checkEnvironment(response)
        if (mismatch !== undefined) return Effect.fail(mismatch)
      }
      return handle(response)
    }

    /**
     * The caller of one endpoint, made once per endpoint (its observer, deadline and schedule with
     * it): `call(request, handle)` is one call. `handle` reads every response but 429/503
     * (transient on every endpoint) and sees 2xx only from the expected environment; it returns
     * the answer or the failure. Transient failures are retried per the endpoint's policy, then
     * end as `HlConnectUnavailable`; one span and the metrics cover the whole call.
     */
    const endpoint = (name: EndpointName, method: PreparedRequest["method"]) => {
      const policy = policyOf(name)
      const observer = makeObserver(name, method)
      const timeoutMillis = Duration.toMillis(policy.attemptTimeout)
      const schedule = retrySchedule(policy)
      return <A, E extends { readonly _tag: string }>(
        request: PreparedRequest,
        handle: (response: RawResponse) => Either.Either<A, E | TransientFailure>,
        onTransientFailure?: (failure: TransientFailure) => void,
        /** What the call is about (the order, the line), for its span. */
        about?: SpanAttributes
      ): Effect.Effect<A, E | CallError> => {
        type Failure = E | TransientFailure | EnvironmentMismatch
        const isRetryable = (failure: Failure): failure is TransientFailure => isTransient(failure)
        const read = (response: RawResponse) => answer(response, handle)
        /**
         * The call, handed its span (see `makeObserver`). The observer invokes it once per run of
         * the call, as the call runs, so `attempts` is this run's own.
         */
        const call = (span: Tracer.Span | undefined): Effect.Effect<A, E | CallError> => {
          let attempts = 0
          const attempt: Effect.Effect<A, Failure> = withinLimits(
            Effect.suspend(() => {
              attempts++
              observer.attempt()
              return Effect.flatMap(sendInSpan(dispatcher, origin, request, timeoutMillis, span), read)
            })
          )
          const observed =
            onTransientFailure === undefined
              ? attempt
              : Effect.tapError(attempt, (failure) => {
                  if (isRetryable(failure)) onTransientFailure(failure)
                  return Effect.void
                })
          return Effect.mapError(retryWhile(observed, schedule, isRetryable), (failure): E | CallError =>
            isRetryable(failure) ? new HlConnectUnavailable({ endpoint: name, attempts, lastCause: failure }) : failure
          )
        }
        return observer.call(call, about)
      }
    }

    return {
      endpoint,
      /** The `X-Environment` of the latest response that carried one (e.g. `sandbox`). */
      environment: Effect.sync(() => Option.fromNullable(observedEnvironment))
    }
  })
