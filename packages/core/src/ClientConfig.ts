/**
 * Client options, and the same read from environment variables through Effect `Config`.
 */
import { Config, Duration, Option, Redacted } from "effect"
import type { Dispatcher } from "undici"
import { ProductionBaseUrl } from "./Api.js"
import type { EndpointName, RetryPolicy } from "./RetryPolicy.js"

export interface HlConnectOptions {
  /** Defaults to production (`ProductionBaseUrl`). A path prefix is kept. */
  readonly baseUrl?: string | URL
  readonly accessToken: Redacted.Redacted<string>
  /** Overrides every endpoint's attempt timeout. */
  readonly attemptTimeout?: Duration.DurationInput
  /** Overrides every endpoint's attempt cap (1 disables retries). */
  readonly maxAttempts?: number
  /** Overrides every endpoint's cap on time spent retrying. */
  readonly maxRetryTime?: Duration.DurationInput
  /** Per-endpoint overrides, applied last. */
  readonly retryPolicies?: Partial<Record<EndpointName, Partial<RetryPolicy>>>
  /** Requests in flight at once, across all endpoints. Default 64. */
  readonly maxInFlight?: number
  /** Spaces requests to at most this many per second. Default: unlimited. */
  readonly requestsPerSecond?: number
  /**
   * The `X-Environment` every response must carry (e.g. `sandbox`). A response from another
   * environment fails with `EnvironmentMismatch`: a production token pointed at the sandbox, or
   * the reverse, is caught on the first call.
   */
  readonly expectedEnvironment?: string
  /** An undici dispatcher to send through (a proxy agent, say). Default: a keep-alive Agent of our own. */
  readonly dispatcher?: Dispatcher
}

/**
 * The Promise facade's options: `HlConnectOptions` with the token as a plain string, so a service
 * not written with Effect needs no `effect` import. The string is wrapped in `Redacted` at once
 * (`toClientOptions`) and never logged.
 */
export interface PromiseClientOptions extends Omit<HlConnectOptions, "accessToken"> {
  readonly accessToken: string | Redacted.Redacted<string>
}

/** `PromiseClientOptions` as the Effect client takes them: the token `Redacted`. */
export const toClientOptions = ({ accessToken, ...rest }: PromiseClientOptions): HlConnectOptions => ({
  ...rest,
  accessToken: typeof accessToken === "string" ? Redacted.make(accessToken) : accessToken
})

const optional = <A>(config: Config.Config<A>) => Config.option(config).pipe(Config.map(Option.getOrUndefined))

/**
 * `HLCONNECT_BASE_URL`, `HLCONNECT_TOKEN` (required, redacted), `HLCONNECT_ATTEMPT_TIMEOUT`,
 * `HLCONNECT_MAX_ATTEMPTS`, `HLCONNECT_MAX_RETRY_TIME`, `HLCONNECT_MAX_IN_FLIGHT`,
 * `HLCONNECT_REQUESTS_PER_SECOND`, `HLCONNECT_EXPECTED_ENVIRONMENT`.
 */
export const HlConnectConfig: Config.Config<HlConnectOptions> = Config.all({
  baseUrl: Config.url("HLCONNECT_BASE_URL").pipe(Config.withDefault(new URL(ProductionBaseUrl))),
  accessToken: Config.redacted("HLCONNECT_TOKEN"),
  attemptTimeout: optional(Config.duration("HLCONNECT_ATTEMPT_TIMEOUT")),
  maxAttempts: optional(
    Config.integer("HLCONNECT_MAX_ATTEMPTS").pipe(
      Config.validate({ message: "must be at least 1", validation: (n) => n >= 1 })
    )
  ),
  maxRetryTime: optional(Config.duration("HLCONNECT_MAX_RETRY_TIME")),
  maxInFlight: Config.integer("HLCONNECT_MAX_IN_FLIGHT").pipe(
    Config.validate({ message: "must be at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(64)
  ),
  requestsPerSecond: optional(
    Config.number("HLCONNECT_REQUESTS_PER_SECOND").pipe(
      Config.validate({ message: "must be greater than 0", validation: (n) => n > 0 })
    )
  ),
  expectedEnvironment: optional(Config.nonEmptyString("HLCONNECT_EXPECTED_ENVIRONMENT"))
}).pipe(
  // Drop unset options rather than carrying `undefined` (exactOptionalPropertyTypes).
  Config.map((c): HlConnectOptions => {
    const options: { -readonly [K in keyof HlConnectOptions]: HlConnectOptions[K] } = {
      baseUrl: c.baseUrl,
      accessToken: c.accessToken,
      maxInFlight: c.maxInFlight
    }
    if (c.attemptTimeout !== undefined) options.attemptTimeout = c.attemptTimeout
    if (c.maxAttempts !== undefined) options.maxAttempts = c.maxAttempts
    if (c.maxRetryTime !== undefined) options.maxRetryTime = c.maxRetryTime
    if (c.requestsPerSecond !== undefined) options.requestsPerSecond = c.requestsPerSecond
    if (c.expectedEnvironment !== undefined) options.expectedEnvironment = c.expectedEnvironment
    return options
  })
)

/** The effective policy of one endpoint: defaults, then global overrides, then per-endpoint ones. */
export const resolvePolicy = (
  defaults: RetryPolicy,
  options: HlConnectOptions,
  endpoint: EndpointName
): RetryPolicy => {
  const specific = options.retryPolicies?.[endpoint]
  return {
    maxAttempts: specific?.maxAttempts ?? options.maxAttempts ?? defaults.maxAttempts,
    baseDelay: specific?.baseDelay ?? defaults.baseDelay,
    maxDelay: specific?.maxDelay ?? defaults.maxDelay,
    maxElapsed:
      specific?.maxElapsed ??
      (options.maxRetryTime === undefined ? defaults.maxElapsed : Duration.decode(options.maxRetryTime)),
    attemptTimeout:
      specific?.attemptTimeout ??
      (options.attemptTimeout === undefined ? defaults.attemptTimeout : Duration.decode(options.attemptTimeout))
  }
}
