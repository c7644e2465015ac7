import { assert, describe, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, Effect, Layer, Redacted } from "effect"
import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OrderLines } from "../src/OrderLines.js"
import * as Store from "../src/Store.js"
import { StoreConfig } from "../src/StoreConfig.js"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("StoreConfig", () => {
  it.effect("no DATABASE_URL: SQLite file hlconnect.db under DATA_DIR (default .data)", () =>
    Effect.gen(function* () {
      const target = yield* StoreConfig.pipe(withEnv({}))
      assert.deepStrictEqual(target, { _tag: "Sqlite", dataDir: ".data", filename: join(".data", "hlconnect.db") })
      const custom = yield* StoreConfig.pipe(withEnv({ DATA_DIR: "/var/lib/hl" }))
      assert.strictEqual(custom._tag === "Sqlite" && custom.filename, "/var/lib/hl/hlconnect.db")
    })
  )

  it.effect("postgres:// and postgresql:// select PostgreSQL; the URL stays redacted", () =>
    Effect.gen(function* () {
      for (const url of ["postgres://u:pw@db:5432/app", "postgresql://u:pw@db/app"]) {
        const target = yield* StoreConfig.pipe(withEnv({ DATABASE_URL: url }))
        assert.strictEqual(target._tag, "Postgres")
        if (target._tag === "Postgres") {
          assert.strictEqual(Redacted.value(target.url), url)
          assert.notInclude(String(target.url), "pw")
        }
      }
    })
  )

  it.effect("anything else is a config error naming DATABASE_URL", () =>
    Effect.gen(function* () {
      for (const url of ["mysql://db/app", "sqlite:foo.db", "not a url", "postgres://u:secret@"]) {
        const error = yield* StoreConfig.pipe(withEnv({ DATABASE_URL: url }), Effect.flip)
        assert.include(String(error), "DATABASE_URL")
        // The variable is the error's path (what start-up reports name it by), not just its text.
        assert.deepStrictEqual(ConfigError.isInvalidData(error) && [error.path, error.message], [
          ["DATABASE_URL"],
          "must be a postgres:// or postgresql:// URL (unset it to use the embedded SQLite store)"
        ])
        assert.notInclude(String(error), "secret")
      }
    })
  )

  it.effect("Store.layer on SQLite creates DATA_DIR on first run and migrates", () =>
    Effect.gen(function* () {
      const root = yield* Effect.acquireRelease(
        Effect.promise(() => mkdtemp(join(tmpdir(), "hlconnect-config-"))),
        (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
      )
      const dataDir = join(root, "nested", "data")
      const env = Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["DATA_DIR", dataDir]])))
      const created = yield* OrderLines.create({
        orderNumber: "C-1",
        orderLineId: "A",
        asset: "a",
        quantity: 1,
        unitPriceMinor: 1,
        totalPriceMinor: 1,
        currency: "EUR",
        customerEmail: "a@b.example"
      }).pipe(Effect.provide(Store.layer.pipe(Layer.provide(env))))
      assert.isTrue(created.created)
      assert.isTrue(existsSync(join(dataDir, "hlconnect.db")))
    }).pipe(Effect.scoped)
  )
})
