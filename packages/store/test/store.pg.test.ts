import { SqlClient } from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { storeSuite } from "./storeSuite.js"
import { pgEngine, postgresUrl } from "./utils.js"

const url = postgresUrl()

if (url === undefined) {
  describe.skip("store on pg (SKIPPED: DATABASE_URL not set)", () => {
    it("needs PostgreSQL", () => {})
  })
} else {
  const engine = pgEngine(url)
  storeSuite(engine)

  describe("pg durability settings", () => {
    it.effect("synchronous_commit is on for pooled sessions", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient
        const rows = yield* Effect.all(
          Array.from({ length: 3 }, () =>
            sql.withTransaction(sql<{ synchronousCommit: string }>`SHOW synchronous_commit`)
          ),
          { concurrency: 3 }
        )
        assert.deepStrictEqual(
          rows.map((r) => r[0]?.synchronousCommit),
          ["on", "on", "on"]
        )
      }).pipe(Effect.provide(engine.store()))
    )
  })
}
