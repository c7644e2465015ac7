/**
 * One logging setup for every app: human-readable output on a terminal,
 * one JSON object per line everywhere else (containers, log shippers).
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Tracer from "effect/Tracer"
import * as ServiceConfig from "./ServiceConfig.js"

export type Format = "pretty" | "json"

export interface Settings {
  readonly format: Format
  readonly level: LogLevel.LogLevel
}

/** Receives one finished JSON log line (without the trailing newline). */
export type LineSink = (line: string) => void

/** `pretty` when stdout is a terminal, `json` otherwise. */
export const detectFormat = (): Format => (process.stdout.isTTY === true ? "pretty" : "json")

/** The level names people write, any case: `warn` and `warning` are one level, `off` is `none`. */
const levelsByName: ReadonlyMap<string, LogLevel.LogLevel> = new Map([
  ["all", LogLevel.All],
  ["trace", LogLevel.Trace],
  ["debug", LogLevel.Debug],
  ["info", LogLevel.Info],
  ["warning", LogLevel.Warning],
  ["warn", LogLevel.Warning],
  ["error", LogLevel.Error],
  ["fatal", LogLevel.Fatal],
  ["none", LogLevel.None],
  ["off", LogLevel.None]
])
const acceptedLevels = [...levelsByName.keys()].join(", ")

/** A minimum log level by name; the error lists the accepted names. */
export const logLevel = (name: string): Config.Config<LogLevel.LogLevel> =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const level = levelsByName.get(raw.trim().toLowerCase())
      return level === undefined
        ? Either.left(
            ConfigError.InvalidData(
              [],
              `Expected a log level (${acceptedLevels}, any case) but received ${JSON.stringify(raw)}`
            )
          )
        : Either.right(level)
    })
  )

/** `LOG_FORMAT` (pretty | json, default: detected from stdout) and `LOG_LEVEL` (default info, see `logLevel`). */
export const config: Config.Config<Settings> = Config.all({
  format: Config.literal("pretty", "json")("LOG_FORMAT").pipe(Config.withDefault(detectFormat())),
  level: logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info))
})

/** The settings used when the configured ones are invalid, so the problem itself can still be logged. */
export const fallbackSettings = (): Settings => ({ format: detectFormat(), level: LogLevel.Info })

export const loadSettings: Effect.Effect<Settings, ServiceConfig.InvalidConfiguration> =
  ServiceConfig.loadConfig(config)

// This is the logger itself, so writing straight to stdout is intended.
const writeToStdout: LineSink = (line) => {
  process.stdout.write(`${line}\n`)
}

/** The span the entry was logged in, if any: its ids join the line to its trace. */
const spanOf = (context: FiberRefs.FiberRefs): Tracer.AnySpan | undefined =>
  Context.getOption(FiberRefs.getOrDefault(context, FiberRef.currentContext), Tracer.ParentSpan).pipe((span) =>
    span._tag === "Some" ? span.value : undefined
  )

/**
 * Effect's structured JSON logger, one line per entry, delivered to `sink`; an entry logged
 * within a span carries `trace_id` and `span_id`, so a log line leads to its trace.
 */
export const jsonLogger = (sink: LineSink = writeToStdout): Logger.Logger<unknown, void> =>
  Logger.make((options) => {
    const span = spanOf(options.context)
    if (span === undefined) return sink(Logger.jsonLogger.log(options))
    sink(
      Inspectable.stringifyCircular({
        ...Logger.structuredLogger.log(options),
        trace_id: span.traceId,
        span_id: span.spanId
      })
    )
  })

/** Replaces Effect's default logger according to `settings`; `sink` redirects JSON lines (tests). */
export const layerWith = (settings: Settings, sink?: LineSink): Layer.Layer<never> =>
  Layer.merge(
    Logger.replace(Logger.defaultLogger, settings.format === "json" ? jsonLogger(sink) : Logger.prettyLoggerDefault),
    Logger.minimumLogLevel(settings.level)
  )

/** Logging configured from `LOG_FORMAT` / `LOG_LEVEL`; fails with `InvalidConfiguration` on bad values. */
export const layer: Layer.Layer<never, ServiceConfig.InvalidConfiguration> = Layer.unwrapEffect(
  Effect.map(loadSettings, (settings) => layerWith(settings))
)
