/**
 * Start-up configuration, validated at once (every problem named by variable).
 */
import { ServiceConfig } from "@hlconnect/service"
import { SecretBox } from "@hlconnect/store"
import { Config, ConfigError, Duration, Either, Option, Redacted, Schema } from "effect"
import { decodeSecret, type SigningKey } from "./Signature.js"

export interface SeedSubscriber {
  readonly url: string
  readonly secret: Redacted.Redacted<string>
  readonly events: ReadonlyArray<string>
}

export interface RelayConfig {
  /** Inbound verification keys; every one is accepted (rotation). */
  readonly webhookKeys: ReadonlyArray<SigningKey>
  /** Seal subscriber signing secrets at rest: the first key seals, every one opens (rotation). */
  readonly secretKeys: SecretBox.SecretKeyRing
  readonly timestampTolerance: Duration.Duration
  readonly maxBodyBytes: number
  /** `None`: the admin API answers 503. */
  readonly adminToken: Option.Option<Redacted.Redacted<string>>
  readonly seedSubscribers: ReadonlyArray<SeedSubscriber>
  readonly deliveryTimeout: Duration.Duration
  /** Delays before retry 1, 2, …; after the last one fails, the delivery is dead-lettered. */
  readonly retrySchedule: ReadonlyArray<Duration.Duration>
  /** ±fraction applied to each retry delay. */
  readonly retryJitter: number
  readonly currency: string
  /** How often idle workers look for due work (new local work wakes them at once). */
  readonly pollInterval: Duration.Duration
  /** Inbound events per commit (group commit cap). */
  readonly commitBatchSize: number
  /** Dispatcher: first retry delay for transient failures (doubles per attempt, capped at 10 minutes). */
  readonly dispatchRetryDelay: Duration.Duration
  /** Dispatcher: attempts before a transiently failing event is dead-lettered. */
  readonly dispatchMaxAttempts: number
  /** Dispatcher: how long a claimed inbox event stays leased; a crashed replica's events come back after it. */
  readonly dispatchLease: Duration.Duration
  /** Concurrent deliveries. */
  readonly deliveryConcurrency: number
  /** Allow `http://` and private / loopback / link-local subscriber addresses (development and tests only). */
  readonly allowPrivateSubscribers: boolean
  /** How long a rotated-out subscriber secret keeps signing next to the new one (default; a rotation may override). */
  readonly secretRotationOverlap: Duration.Duration
  /** A subscriber failing with no success for this long is disabled (the first failure after it disables). */
  readonly subscriberDisableAfter: Duration.Duration
  /** How often failing subscribers are checked for warnings, and expired rotated-out secrets dropped. */
  readonly subscriberCheckInterval: Duration.Duration
  /**
   * How long ended inbox events (processed, dead) and deliveries (delivered, dead) are kept after
   * they ended; an outbound event goes once none of its deliveries is left. At least 3 days: a
   * purged inbox event no longer marks its id as seen, so a sender's late retry of it would be
   * taken as new — senders retry for up to ~3 days (Stripe) or ~27 hours (Svix).
   */
  readonly retention: Duration.Duration
  /** How often each replica purges what is past `retention` (replicas purging at once is safe). */
  readonly retentionInterval: Duration.Duration
}

/** Warnings before auto-disable, in percent of `subscriberDisableAfter`. */
export const failureWarningLevels: ReadonlyArray<number> = [50, 90]

/** The longest rotation overlap accepted (the store's cap). */
export const maxRotationOverlap = Duration.days(30)

export const svixSchedule: ReadonlyArray<Duration.Duration> = [
  Duration.seconds(5),
  Duration.minutes(5),
  Duration.minutes(30),
  Duration.hours(2),
  Duration.hours(5),
  Duration.hours(10),
  Duration.hours(10)
]

export const defaults = {
  timestampTolerance: Duration.minutes(5),
  maxBodyBytes: 1024 * 1024,
  deliveryTimeout: Duration.seconds(15),
  retryJitter: 0.2,
  currency: "USD",
  pollInterval: Duration.seconds(1),
  commitBatchSize: 256,
  dispatchRetryDelay: Duration.seconds(5),
  dispatchMaxAttempts: 25,
  dispatchLease: Duration.minutes(2),
  deliveryConcurrency: 16,
  allowPrivateSubscribers: false,
  secretRotationOverlap: Duration.hours(24),
  subscriberDisableAfter: Duration.days(5),
  subscriberCheckInterval: Duration.minutes(1),
  retention: Duration.days(90),
  retentionInterval: Duration.hours(1)
} as const

const invalid = (message: string) => Either.left(ConfigError.InvalidData([], message))
// `Config.redacted(...)` mapped keeps no path of its own: name the variable explicitly.
const invalidAt = (name: string, message: string) => Either.left(ConfigError.InvalidData([name], message))

const secrets = Config.redacted("RELAY_WEBHOOK_SECRETS").pipe(
  Config.mapOrFail((value) => {
    const parts = Redacted.value(value)
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
    if (parts.length === 0) return invalidAt("RELAY_WEBHOOK_SECRETS", "must list at least one whsec_… secret")
    const keys: Array<SigningKey> = []
    for (const [i, part] of parts.entries()) {
      const decoded = decodeSecret(Redacted.make(part))
      // Never echo the secret itself.
      if (Either.isLeft(decoded)) return invalidAt("RELAY_WEBHOOK_SECRETS", `secret #${i + 1}: ${decoded.left.message}`)
      keys.push(decoded.right)
    }
    return Either.right(keys)
  })
)

/** Required: subscriber signing secrets are never stored in plaintext, so a relay without a key does not start. */
const secretKeys = Config.redacted("RELAY_SECRETS_KEY").pipe(
  Config.mapOrFail((value) =>
    Either.mapLeft(SecretBox.parseKeyRing(value), (message) => ConfigError.InvalidData(["RELAY_SECRETS_KEY"], message))
  )
)

const SeedJson = Schema.parseJson(
  Schema.Array(
    Schema.Struct({
      url: Schema.String,
      secret: Schema.Redacted(Schema.String),
      events: Schema.optionalWith(Schema.Array(Schema.String), { default: () => ["*"] })
    })
  )
)

const seed = Config.redacted("RELAY_SUBSCRIBERS").pipe(
  Config.mapOrFail((value) =>
    Either.mapLeft(
      Schema.decodeUnknownEither(SeedJson)(Redacted.value(value)),
      // The JSON holds secrets: say what is wrong, not what was given.
      () => ConfigError.InvalidData(["RELAY_SUBSCRIBERS"], 'must be a JSON array of {"url", "secret", "events"}')
    )
  ),
  Config.withDefault<ReadonlyArray<SeedSubscriber>>([])
)

const schedule = Config.string("RELAY_RETRY_SCHEDULE").pipe(
  Config.mapOrFail((raw) => {
    const out: Array<Duration.Duration> = []
    for (const part of raw.split(",").map((s) => s.trim())) {
      const d = Duration.decodeUnknown(part)
      if (Option.isNone(d)) return invalid(`${JSON.stringify(part)} is not a duration like "5 seconds"`)
      out.push(d.value)
    }
    return Either.right(out)
  }),
  Config.withDefault(svixSchedule)
)

// `mapOrFail` (not `Config.validate`) keeps the variable's name in the error.
const check =
  <A>(message: string, ok: (a: A) => boolean) =>
  (config: Config.Config<A>): Config.Config<A> =>
    Config.mapOrFail(config, (a) => (ok(a) ? Either.right(a) : invalid(message)))

const positiveInt = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    check("must be a positive integer", (n) => n >= 1),
    Config.withDefault(fallback)
  )

export const RelayConfig: Config.Config<RelayConfig> = Config.all({
  webhookKeys: secrets,
  secretKeys,
  timestampTolerance: Config.duration("RELAY_TIMESTAMP_TOLERANCE").pipe(
    Config.withDefault(defaults.timestampTolerance)
  ),
  maxBodyBytes: Config.integer("RELAY_MAX_BODY_BYTES").pipe(
    check(`must be between 1 and ${1024 * 1024} (the inbox stores at most 1 MiB)`, (n) => n >= 1 && n <= 1024 * 1024),
    Config.withDefault(defaults.maxBodyBytes)
  ),
  adminToken: Config.option(
    Config.redacted("RELAY_ADMIN_TOKEN").pipe(
      Config.mapOrFail((t) =>
        Redacted.value(t).length >= 16
          ? Either.right(t)
          : invalidAt("RELAY_ADMIN_TOKEN", "must be at least 16 characters")
      )
    )
  ),
  seedSubscribers: seed,
  deliveryTimeout: Config.duration("RELAY_DELIVERY_TIMEOUT").pipe(Config.withDefault(defaults.deliveryTimeout)),
  retrySchedule: schedule,
  retryJitter: Config.number("RELAY_RETRY_JITTER").pipe(
    check("must be between 0 and 0.5", (n) => n >= 0 && n <= 0.5),
    Config.withDefault(defaults.retryJitter)
  ),
  currency: Config.string("RELAY_CURRENCY").pipe(
    check("must be an ISO 4217 code like USD", (c) => /^[A-Z]{3}$/.test(c)),
    Config.withDefault(defaults.currency)
  ),
  pollInterval: Config.duration("RELAY_POLL_INTERVAL").pipe(Config.withDefault(defaults.pollInterval)),
  commitBatchSize: Config.integer("RELAY_COMMIT_BATCH").pipe(
    check("must be between 1 and 500", (n) => n >= 1 && n <= 500),
    Config.withDefault(defaults.commitBatchSize)
  ),
  dispatchRetryDelay: Config.duration("RELAY_DISPATCH_RETRY_DELAY").pipe(
    Config.withDefault(defaults.dispatchRetryDelay)
  ),
  dispatchMaxAttempts: positiveInt("RELAY_DISPATCH_MAX_ATTEMPTS", defaults.dispatchMaxAttempts),
  dispatchLease: Config.duration("RELAY_DISPATCH_LEASE").pipe(
    check("must be between 1 second and 1 hour", (d) =>
      Duration.between(d, { minimum: Duration.seconds(1), maximum: Duration.hours(1) })
    ),
    Config.withDefault(defaults.dispatchLease)
  ),
  deliveryConcurrency: positiveInt("RELAY_DELIVERY_CONCURRENCY", defaults.deliveryConcurrency),
  // true/false (also yes/no, on/off, 1/0); anything else is a config error naming the variable.
  allowPrivateSubscribers: Config.boolean("RELAY_ALLOW_PRIVATE_SUBSCRIBERS").pipe(
    Config.withDefault(defaults.allowPrivateSubscribers)
  ),
  secretRotationOverlap: Config.duration("RELAY_SECRET_ROTATION_OVERLAP").pipe(
    check("must be between 0 and 30 days", (d) => Duration.lessThanOrEqualTo(d, maxRotationOverlap)),
    Config.withDefault(defaults.secretRotationOverlap)
  ),
  subscriberDisableAfter: Config.duration("RELAY_SUBSCRIBER_DISABLE_AFTER").pipe(
    check("must be at least 1 second", (d) => Duration.greaterThanOrEqualTo(d, Duration.seconds(1))),
    Config.withDefault(defaults.subscriberDisableAfter)
  ),
  subscriberCheckInterval: Config.duration("RELAY_SUBSCRIBER_CHECK_INTERVAL").pipe(
    check("must be between 10 milliseconds and 1 hour", (d) =>
      Duration.between(d, { minimum: Duration.millis(10), maximum: Duration.hours(1) })
    ),
    Config.withDefault(defaults.subscriberCheckInterval)
  ),
  retention: Config.duration("RELAY_RETENTION").pipe(
    check(
      "must be between 3 days and 3650 days (a sender may retry an event for 3 days; it must still be known then)",
      (d) => Duration.between(d, { minimum: Duration.days(3), maximum: Duration.days(3650) })
    ),
    Config.withDefault(defaults.retention)
  ),
  retentionInterval: Config.duration("RELAY_RETENTION_INTERVAL").pipe(
    check("must be between 1 second and 1 day", (d) =>
      Duration.between(d, { minimum: Duration.seconds(1), maximum: Duration.days(1) })
    ),
    Config.withDefault(defaults.retentionInterval)
  )
})

export const load = ServiceConfig.loadConfig(RelayConfig)

/**
 * A config for code and tests: secrets given as `whsec_…` strings; without `secretKeys`, one
 * fresh key (secrets sealed under it open only with this config).
 */
export const make = (
  options: Partial<Omit<RelayConfig, "webhookKeys">> & { readonly webhookSecrets: ReadonlyArray<string> }
): RelayConfig => {
  const { webhookSecrets, ...rest } = options
  const webhookKeys = webhookSecrets.map((s) =>
    Either.getOrThrowWith(decodeSecret(Redacted.make(s)), (e) => new Error(`invalid webhook secret: ${e.message}`))
  )
  const secretKeys =
    rest.secretKeys ??
    Either.getOrThrowWith(
      SecretBox.parseKeyRing(SecretBox.generateKey()),
      (message) => new Error(`invalid secrets key: ${message}`)
    )
  return {
    ...defaults,
    adminToken: Option.none(),
    seedSubscribers: [],
    retrySchedule: svixSchedule,
    ...rest,
    webhookKeys,
    secretKeys
  }
}
