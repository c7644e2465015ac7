/**
 * Start-up configuration: read a `Config`, and turn any `ConfigError` into one
 * `InvalidConfiguration` error that names every offending variable, so an
 * operator can fix all of them in one go.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/** One line per offending variable, e.g. `PORT: Expected an integer between 0 and 65535, got "abc"`. */
export class InvalidConfiguration extends Schema.TaggedError<InvalidConfiguration>()("InvalidConfiguration", {
  problems: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return ["Invalid configuration:", ...this.problems.map((problem) => `  - ${problem}`)].join("\n")
  }
}

// Environment variables are addressed with "_" between nested path segments (ConfigProvider.fromEnv's default).
const variableName = (path: ReadonlyArray<string>): string => (path.length === 0 ? "<root>" : path.join("_"))

const describeProblems = (error: ConfigError.ConfigError): ReadonlyArray<string> =>
  ConfigError.reduceWithContext<undefined, ReadonlyArray<string>>(error, undefined, {
    andCase: (_, left, right) => [...left, ...right],
    orCase: (_, left, right) => [...left, ...right],
    invalidDataCase: (_, path, message) => [`${variableName(path)}: ${message}`],
    missingDataCase: (_, path) => [`${variableName(path)}: is required but not set`],
    sourceUnavailableCase: (_, path, message) => [`${variableName(path)}: could not be read (${message})`],
    unsupportedCase: (_, path, message) => [`${variableName(path)}: ${message}`]
  })

/** Converts a `ConfigError` into `InvalidConfiguration`, de-duplicating repeated problems (e.g. from `Config.orElse`). */
export const fromConfigError = (error: ConfigError.ConfigError): InvalidConfiguration =>
  new InvalidConfiguration({ problems: Array.from(new Set(describeProblems(error))) })

/** Reads `config` from the current `ConfigProvider`; every problem is reported at once. */
export const loadConfig = <A>(config: Config.Config<A>): Effect.Effect<A, InvalidConfiguration> =>
  Effect.mapError(config, fromConfigError)

/** A layer providing `tag` with the validated configuration. */
export const layer = <I, A>(tag: Context.Tag<I, A>, config: Config.Config<A>): Layer.Layer<I, InvalidConfiguration> =>
  Layer.effect(tag, loadConfig(config))

/** A TCP port (integer 0–65535); `0` asks the OS for a free port. */
export const port = (name: string, defaultPort: number): Config.Config<number> =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const value = Number(raw.trim())
      return raw.trim() !== "" && Number.isInteger(value) && value >= 0 && value <= 65535
        ? Either.right(value)
        : Either.left(
            ConfigError.InvalidData([], `Expected an integer between 0 and 65535, got ${JSON.stringify(raw)}`)
          )
    }),
    Config.withDefault(defaultPort)
  )

/** How long in-flight HTTP requests may keep running after a shutdown signal (`SHUTDOWN_GRACE`, e.g. "10 seconds"). */
export const shutdownGrace: Config.Config<Duration.Duration> = Config.duration("SHUTDOWN_GRACE").pipe(
  Config.withDefault(Duration.seconds(10))
)
