import { SqlClient } from "@effect/sql/SqlClient"
import { Effect, Layer, Redacted } from "effect"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { pgClient, sqliteClient, layerPg, layerSqlite, type StoreServices } from "../src/Store.js"
import type { StorageError } from "../src/Errors.js"

export interface EngineUnderTest {
  readonly name: "sqlite" | "pg"
  /** A fresh, migrated store per call (isolated database / schema). */
  readonly store: () => Layer.Layer<StoreServices | SqlClient, StorageError>
  /** A fresh, EMPTY database (no migrations), for upgrade tests. */
  readonly emptyClient: () => Layer.Layer<SqlClient, StorageError>
}

const tempFile = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "hlconnect-store-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => join(dir, "data", "hlconnect.db")))

export const sqliteEngine: EngineUnderTest = {
  name: "sqlite",
  store: () => Layer.unwrapScoped(Effect.map(tempFile, (filename) => layerSqlite({ filename }))),
  emptyClient: () => Layer.unwrapScoped(Effect.map(tempFile, (filename) => sqliteClient({ filename })))
}

const REQUIRED_MESSAGE = "DATABASE_URL is required for the PostgreSQL half of the store suite"

/**
 * The PostgreSQL URL, or `undefined` to skip the PG half. Under CI or
 * REQUIRE_POSTGRES a missing URL is a hard failure, never a silent skip.
 */
export const postgresUrl = (): string | undefined => {
  const url = process.env.DATABASE_URL
  if (url !== undefined && url !== "") return url
  const isSet = (v: string | undefined) => v !== undefined && v !== "" && v !== "0" && v !== "false"
  if (isSet(process.env.CI) || isSet(process.env.REQUIRE_POSTGRES)) {
    throw new Error(`${REQUIRED_MESSAGE} (CI/REQUIRE_POSTGRES is set). Start PostgreSQL and set DATABASE_URL.`)
  }
  process.stderr.write(`\n⚠ ${REQUIRED_MESSAGE}: not set, SKIPPING the PostgreSQL half.\n\n`)
  return undefined
}

export const uniqueSchema = () => `store_${randomBytes(6).toString("hex")}`

/** Drop a test schema over a separate short-lived connection. */
export const dropSchema = (url: string, schema: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient
    yield* sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`
  }).pipe(Effect.provide(pgClient({ url: Redacted.make(url) })), Effect.orDie)

/** A scoped schema: created by the store layer, dropped when the scope closes. */
export const scopedSchema = (url: string) =>
  Effect.acquireRelease(Effect.sync(uniqueSchema), (schema) => dropSchema(url, schema))

export const pgEngine = (url: string): EngineUnderTest => ({
  name: "pg",
  store: () => Layer.unwrapScoped(Effect.map(scopedSchema(url), (schema) => layerPg({ url: Redacted.make(url), schema }))),
  emptyClient: () => Layer.unwrapScoped(Effect.map(scopedSchema(url), (schema) => pgClient({ url: Redacted.make(url), schema })))
})

const packageDir = fileURLToPath(new URL("..", import.meta.url))

/**
 * Run test/claim-worker.ts in another OS process. Succeeds once the worker is
 * connected and claiming, with an effect that waits for the ids it claimed.
 */
export const childWorker = (env: Readonly<Record<string, string>>) =>
  Effect.async<Effect.Effect<ReadonlyArray<string>, Error>, Error>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/claim-worker.ts"], {
      cwd: packageDir,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let ready = false
    const finished = new Promise<ReadonlyArray<string>>((resolve, reject) => {
      child.on("exit", (code) => {
        const last = stdout.trim().split("\n").pop() ?? ""
        if (code !== 0) return reject(new Error(`claim-worker exited ${code}: ${stderr}`))
        try {
          const parsed: { claimed: Array<string> } = JSON.parse(last)
          resolve(parsed.claimed)
        } catch {
          reject(new Error(`claim-worker printed ${last}`))
        }
      })
    })
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      if (!ready && stdout.includes("READY")) {
        ready = true
        resume(Effect.succeed(Effect.tryPromise({ try: () => finished, catch: (e) => new Error(String(e)) })))
      }
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on("exit", (code) => {
      if (!ready) resume(Effect.fail(new Error(`claim-worker exited ${code} before READY: ${stderr}`)))
    })
    return Effect.sync(() => child.kill())
  })
