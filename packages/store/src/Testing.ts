/**
 * For the tests of this and other packages: the PostgreSQL URL under the suite's rules, and
 * throw-away schemas on it.
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { Effect, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { pgClient } from "./Store.js"

const isSet = (v: string | undefined) => v !== undefined && v !== "" && v !== "0" && v !== "false"

/**
 * `DATABASE_URL`, or `undefined` to skip `what` (with a warning). Under `CI` or
 * `REQUIRE_POSTGRES` a missing URL is a hard failure, never a silent skip.
 */
export const postgresUrl = (what: string): string | undefined => {
  const url = process.env.DATABASE_URL
  if (url !== undefined && url !== "") return url
  if (isSet(process.env.CI) || isSet(process.env.REQUIRE_POSTGRES)) {
    throw new Error(
      `DATABASE_URL is required for ${what} (CI/REQUIRE_POSTGRES is set). Start PostgreSQL and set DATABASE_URL.`
    )
  }
  process.stderr.write(`\n⚠ DATABASE_URL not set: SKIPPING ${what}.\n\n`)
  return undefined
}

/** A fresh schema name (`Store.layerPg({ schema })` creates it). */
export const uniqueSchema = (prefix: string): string => `${prefix}_${randomBytes(6).toString("hex")}`

/** Drops a test schema over its own short-lived connection. */
export const dropSchema = (url: string, schema: string): Effect.Effect<void> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient
    yield* sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`
  }).pipe(Effect.provide(pgClient({ url: Redacted.make(url) })), Effect.orDie)
