import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { Logging } from "../src/index.js"

describe("Logging", () => {
  it.effect("the JSON logger writes one parseable JSON object per entry, honouring the minimum level", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const logging = Logging.layerWith({ format: "json", level: LogLevel.Info }, (line) => lines.push(line))
      yield* Effect.gen(function* () {
        yield* Effect.logDebug("not shown")
        yield* Effect.logInfo("relay started").pipe(Effect.annotateLogs("service", "relay"))
        yield* Effect.logWarning("token", Redacted.make("s3cret"))
      }).pipe(Effect.provide(logging))

      assert.strictEqual(lines.length, 2)
      for (const line of lines) assert.notInclude(line, "\n")
      const [started, warning] = lines.map((line) => JSON.parse(line))
      assert.strictEqual(started.message, "relay started")
      assert.strictEqual(started.logLevel, "INFO")
      assert.deepStrictEqual(started.annotations, { service: "relay" })
      assert.strictEqual(warning.logLevel, "WARN")
      assert.notInclude(JSON.stringify(warning), "s3cret")
    })
  )
})
