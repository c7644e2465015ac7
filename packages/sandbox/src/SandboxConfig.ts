/**
 * Sandbox settings, from options in tests or `SANDBOX_*` environment variables standalone.
 */
import { Config, Duration, Redacted } from "effect"
import { FailingAssetId } from "./Catalog.js"
import { FaultSettings } from "./Faults.js"

export interface SandboxOptions {
  /** Bearer tokens the sandbox accepts. */
  readonly accessTokens: ReadonlyArray<Redacted.Redacted<string>>
  /** Sent as `X-Environment` on every success. */
  readonly environment: string
  /** A registered line completes (or fails) this long after registration … */
  readonly fulfilmentDelay: Duration.Duration
  /** … or after this many `purchaseInfo` polls, whichever comes first (0 = polls don't count). */
  readonly fulfilmentPolls: number
  /** Validation tokens expire after this long (`exp_date`). */
  readonly validationTokenTtl: Duration.Duration
  /** Download/view URLs expire after this long. */
  readonly urlTtl: Duration.Duration
  /** Assets whose fulfilment fails (info answers 502). */
  readonly failingAssets: ReadonlyArray<number>
  /** Faults from the start (tests change them at run time). */
  readonly faults: FaultSettings
  /** Seed for the fault dice, so a chaos run can be replayed. */
  readonly seed: number
}

export const defaultSandboxOptions: SandboxOptions = {
  accessTokens: [Redacted.make("sandbox-token")],
  environment: "sandbox",
  fulfilmentDelay: Duration.seconds(2),
  fulfilmentPolls: 0,
  validationTokenTtl: Duration.minutes(15),
  urlTtl: Duration.minutes(30),
  failingAssets: [FailingAssetId],
  faults: FaultSettings.make({}),
  seed: 42
}

const fraction = (name: string) =>
  Config.number(name).pipe(
    Config.validate({ message: "must be between 0 and 1", validation: (n) => n >= 0 && n <= 1 }),
    Config.withDefault(0)
  )
const millis = (name: string) =>
  Config.integer(name).pipe(
    Config.validate({ message: "must be a whole number of milliseconds ≥ 0", validation: (n) => n >= 0 }),
    Config.withDefault(0)
  )

/**
 * `SANDBOX_TOKENS` (comma-separated, default `sandbox-token`), `SANDBOX_ENVIRONMENT`,
 * `SANDBOX_FULFILMENT_DELAY`, `SANDBOX_FULFILMENT_POLLS`, `SANDBOX_TOKEN_TTL`, `SANDBOX_URL_TTL`,
 * `SANDBOX_FAILING_ASSETS`, `SANDBOX_SEED`, and faults: `SANDBOX_ERROR_RATE`,
 * `SANDBOX_RATE_LIMIT_RATE`, `SANDBOX_RESET_RATE`, `SANDBOX_RESET_AFTER_RATE`,
 * `SANDBOX_HTML_502_RATE`, `SANDBOX_GATEWAY_504_RATE`, `SANDBOX_LATENCY_MS`, `SANDBOX_LATENCY_JITTER_MS`.
 */
export const SandboxConfig: Config.Config<SandboxOptions> = Config.all({
  accessTokens: Config.array(Config.redacted(), "SANDBOX_TOKENS").pipe(
    Config.validate({ message: "must list at least one token", validation: (tokens) => tokens.length > 0 }),
    Config.withDefault(defaultSandboxOptions.accessTokens)
  ),
  environment: Config.nonEmptyString("SANDBOX_ENVIRONMENT").pipe(Config.withDefault(defaultSandboxOptions.environment)),
  fulfilmentDelay: Config.duration("SANDBOX_FULFILMENT_DELAY").pipe(
    Config.withDefault(defaultSandboxOptions.fulfilmentDelay)
  ),
  fulfilmentPolls: Config.integer("SANDBOX_FULFILMENT_POLLS").pipe(
    Config.withDefault(defaultSandboxOptions.fulfilmentPolls)
  ),
  validationTokenTtl: Config.duration("SANDBOX_TOKEN_TTL").pipe(
    Config.withDefault(defaultSandboxOptions.validationTokenTtl)
  ),
  urlTtl: Config.duration("SANDBOX_URL_TTL").pipe(Config.withDefault(defaultSandboxOptions.urlTtl)),
  failingAssets: Config.array(Config.integer(), "SANDBOX_FAILING_ASSETS").pipe(
    Config.withDefault(defaultSandboxOptions.failingAssets)
  ),
  seed: Config.integer("SANDBOX_SEED").pipe(Config.withDefault(defaultSandboxOptions.seed)),
  faults: Config.all({
    error_rate: fraction("SANDBOX_ERROR_RATE"),
    rate_limit_rate: fraction("SANDBOX_RATE_LIMIT_RATE"),
    reset_rate: fraction("SANDBOX_RESET_RATE"),
    reset_after_rate: fraction("SANDBOX_RESET_AFTER_RATE"),
    html_502_rate: fraction("SANDBOX_HTML_502_RATE"),
    gateway_504_rate: fraction("SANDBOX_GATEWAY_504_RATE"),
    latency_ms: millis("SANDBOX_LATENCY_MS"),
    latency_jitter_ms: millis("SANDBOX_LATENCY_JITTER_MS")
  }).pipe(Config.map((faults) => FaultSettings.make(faults)))
})
