import { assert, describe, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { Logging, ServiceConfig } from "../src/index.js"

const withEnv = (entries: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries)), { pathDelim: "_" }))

const AppConfig = Config.all({
  port: ServiceConfig.port("PORT", 8080),
  apiKey: Config.redacted("HL_API_KEY"),
  batchSize: Config.integer("BATCH_SIZE"),
  logging: Logging.config
})

describe("ServiceConfig", () => {
  it.effect("loads valid configuration, with defaults and redacted secrets", () =>
    Effect.gen(function* () {
      const config = yield* ServiceConfig.loadConfig(AppConfig).pipe(
        withEnv({ HL_API_KEY: "s3cret", BATCH_SIZE: "50", LOG_LEVEL: "debug", LOG_FORMAT: "json" })
      )
      assert.strictEqual(config.port, 8080)
      assert.strictEqual(config.batchSize, 50)
      assert.strictEqual(Redacted.value(config.apiKey), "s3cret")
      assert.notInclude(String(config.apiKey), "s3cret")
      assert.strictEqual(config.logging.level.label, "DEBUG")
      assert.strictEqual(config.logging.format, "json")
    })
  )

  it.effect("names every offending variable in one InvalidConfiguration error", () =>
    Effect.gen(function* () {
      const error = yield* ServiceConfig.loadConfig(AppConfig).pipe(
        withEnv({ PORT: "abc", BATCH_SIZE: "many", LOG_LEVEL: "loud", LOG_FORMAT: "xml" }),
        Effect.flip
      )
      assert.strictEqual(error._tag, "InvalidConfiguration")
      assert.deepStrictEqual(error.problems, [
        'PORT: Expected an integer between 0 and 65535, got "abc"',
        "HL_API_KEY: is required but not set",
        'BATCH_SIZE: Expected an integer value but received "many"',
        'LOG_FORMAT: Expected one of (pretty, json) but received "xml"',
        'LOG_LEVEL: Expected a log level (all, trace, debug, info, warning, warn, error, fatal, none, off, any case) but received "loud"'
      ])
      assert.isTrue(error.message.startsWith("Invalid configuration:\n  - PORT: Expected an integer"))
    })
  )

  it.effect("LOG_LEVEL takes the names people write, in any case", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["warning", "WARN"],
        ["warn", "WARN"],
        ["WARNING", "WARN"],
        [" Debug ", "DEBUG"],
        ["off", "OFF"],
        ["error", "ERROR"]
      ]
      for (const [raw, label] of cases) {
        const settings = yield* ServiceConfig.loadConfig(Logging.config).pipe(
          withEnv({ LOG_LEVEL: raw, LOG_FORMAT: "json" })
        )
        assert.strictEqual(settings.level.label, label, raw)
      }
    })
  )

  it.effect("port rejects values outside 0–65535", () =>
    Effect.gen(function* () {
      const error = yield* ServiceConfig.loadConfig(ServiceConfig.port("ADMIN_PORT", 9000)).pipe(
        withEnv({ ADMIN_PORT: "70000" }),
        Effect.flip
      )
      assert.deepStrictEqual(error.problems, ['ADMIN_PORT: Expected an integer between 0 and 65535, got "70000"'])
    })
  )

  it.effect("shutdownGrace defaults to 10 seconds and accepts durations", () =>
    Effect.gen(function* () {
      const byDefault = yield* ServiceConfig.loadConfig(ServiceConfig.shutdownGrace).pipe(withEnv({}))
      assert.isTrue(Duration.equals(byDefault, Duration.seconds(10)))
      const configured = yield* ServiceConfig.loadConfig(ServiceConfig.shutdownGrace).pipe(
        withEnv({ SHUTDOWN_GRACE: "500 millis" })
      )
      assert.isTrue(Duration.equals(configured, Duration.millis(500)))
    })
  )
})
