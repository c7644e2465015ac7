import type { SqlClient } from "@effect/sql/SqlClient"
import { Effect, Either, Layer, Redacted } from "effect"
import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { pgClient, sqliteClient, layerPg, layerSqlite, type StoreServices } from "../src/Store.js"
import type { StorageError } from "../src/Errors.js"
import * as SecretBox from "../src/SecretBox.js"
import * as Testing from "../src/Testing.js"

/** A key ring of one fresh key, as the relay would read it from RELAY_SECRETS_KEY. */
export const freshKeyRing = (): SecretBox.SecretKeyRing =>
  Either.getOrThrowWith(SecretBox.parseKeyRing(SecretBox.generateKey()), (message) => new Error(message))

/** The suite's secret box: one key for the whole run. */
export const testSecretBox = SecretBox.layer(freshKeyRing())

export interface EngineUnderTest {
  readonly name: "sqlite" | "pg"
  /** A fresh, migrated store per call (isolated database / schema), with the suite's secret box. */
  readonly store: () => Layer.Layer<StoreServices | SqlClient | SecretBox.SecretBox, StorageError>
  /** A fresh, EMPTY database (no migrations), for upgrade tests, with the suite's secret box. */
  readonly emptyClient: () => Layer.Layer<SqlClient | SecretBox.SecretBox, StorageError>
}

const tempFile = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "hlconnect-store-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => join(dir, "data", "hlconnect.db")))

export const sqliteEngine: EngineUnderTest = {
  name: "sqlite",
  store: () =>
    Layer.unwrapScoped(Effect.map(tempFile, (filename) => Layer.merge(layerSqlite({ filename }), testSecretBox))),
  emptyClient: () =>
    Layer.unwrapScoped(Effect.map(tempFile, (filename) => Layer.merge(sqliteClient({ filename }), testSecretBox)))
}

/** The PostgreSQL URL, or `undefined` to skip the PG half (see `Testing.postgresUrl`). */
export const postgresUrl = () => Testing.postgresUrl("the PostgreSQL half of the store suite")

export const uniqueSchema = () => Testing.uniqueSchema("store")

export const dropSchema = Testing.dropSchema

/** A scoped schema: created by the store layer, dropped when the scope closes. */
export const scopedSchema = (url: string) =>
  Effect.acquireRelease(Effect.sync(uniqueSchema), (schema) => dropSchema(url, schema))

export const pgEngine = (url: string): EngineUnderTest => ({
  name: "pg",
  store: () =>
    Layer.unwrapScoped(
      Effect.map(scopedSchema(url), (schema) =>
        Layer.merge(layerPg({ url: Redacted.make(url), schema }), testSecretBox)
      )
    ),
  emptyClient: () =>
    Layer.unwrapScoped(
      Effect.map(scopedSchema(url), (schema) =>
        Layer.merge(pgClient({ url: Redacted.make(url), schema }), testSecretBox)
      )
    )
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
