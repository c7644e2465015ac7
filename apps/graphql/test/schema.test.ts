/** The committed `schema.graphql` is the schema the code builds: API changes show up in review. */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { printedSchema, schemaFile } from "../src/schema/Sdl.js"
import { schema } from "../src/index.js"
import { assertValidSchema } from "graphql"

describe("schema.graphql", () => {
  it("is valid", () => {
    expect(() => assertValidSchema(schema)).not.toThrow()
  })

  it("matches the schema built from code (regenerate with `pnpm --filter @hlconnect/graphql schema`)", () => {
    const committed = readFileSync(schemaFile, "utf8")
    expect(
      committed === printedSchema(),
      "schema.graphql is out of date: run `pnpm --filter @hlconnect/graphql schema`, review the diff and commit it"
    ).toBe(true)
  })
})
