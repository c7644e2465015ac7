/**
 * Writes the schema in SDL to `schema.graphql`, or with `--check` fails when the committed file
 * differs, so every change to the API shows up in review. `pnpm --filter @hlconnect/graphql schema`.
 */
import { runMain } from "@hlconnect/service"
import { Effect } from "effect"
import { readFile, writeFile } from "node:fs/promises"
import { printedSchema, schemaFile } from "./schema/Sdl.js"

const program = Effect.gen(function* () {
  const printed = printedSchema()
  if (process.argv.includes("--check")) {
    const committed = yield* Effect.tryPromise(() => readFile(schemaFile, "utf8"))
    if (committed !== printed) {
      return yield* Effect.fail(
        new Error("schema.graphql is out of date: run `pnpm --filter @hlconnect/graphql schema` and review the diff")
      )
    }
    return yield* Effect.logInfo("schema.graphql is up to date")
  }
  yield* Effect.tryPromise(() => writeFile(schemaFile, printed))
  yield* Effect.logInfo(`wrote ${schemaFile}`)
})

runMain(program, { name: "graphql-schema" })
