import { SqlClient } from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Inbox } from "../src/Inbox.js"
import * as Migrations from "../src/Migrations.js"
import { layerSqlite, sqliteClient } from "../src/Store.js"
import { Subscribers } from "../src/Subscribers.js"
import { storeSuite } from "./storeSuite.js"
import { childWorker, sqliteEngine, testSecretBox } from "./utils.js"

storeSuite(sqliteEngine)

describe("sqlite durability settings", () => {
  it.effect("WAL, synchronous=FULL, busy_timeout, foreign keys", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient
      const [journal] = yield* sql<{ journalMode: string }>`PRAGMA journal_mode`
      const [sync] = yield* sql<{ synchronous: number }>`PRAGMA synchronous`
      const [fk] = yield* sql<{ foreignKeys: number }>`PRAGMA foreign_keys`
      const [busy] = yield* sql<{ timeout: number }>`PRAGMA busy_timeout`
      assert.strictEqual(journal?.journalMode, "wal")
      assert.strictEqual(sync?.synchronous, 2)
      assert.strictEqual(fk?.foreignKeys, 1)
      assert.strictEqual(busy?.timeout, 5000)
    }).pipe(Effect.provide(sqliteEngine.store()))
  )
})

describe("sqlite shared by two OS processes", () => {
  it.live(
    "a second process claiming from the same file never overlaps (single writer + busy_timeout)",
    () =>
      Effect.gen(function* () {
        const dir = yield* Effect.acquireRelease(
          Effect.promise(() => mkdtemp(join(tmpdir(), "hlconnect-sqlite-"))),
          (d) => Effect.promise(() => rm(d, { recursive: true, force: true }))
        )
        const filename = join(dir, "hlconnect.db")
        const store = yield* Layer.build(layerSqlite({ filename }))
        yield* Inbox.appendBatch(
          Array.from({ length: 400 }, (_, i) => ({
            eventId: `e-${i}`,
            source: "s",
            eventType: "order.paid",
            body: "{}"
          }))
        ).pipe(Effect.provide(store))
        const child = yield* childWorker({ SQLITE_FILE: filename, WORKER_OWNER: "child-process" })
        const drain = (owner: string) =>
          Effect.gen(function* () {
            const got: Array<string> = []
            let idle = 0
            while (idle < 3) {
              const batch = yield* Inbox.claim({ owner, limit: 5, leaseMs: 60_000 })
              if (batch.length === 0) idle++
              else idle = 0
              got.push(...batch.map((c) => c.event.eventId))
              yield* Effect.sleep("2 millis")
            }
            return got
          }).pipe(Effect.provide(store))
        const local = yield* Effect.all([drain("parent-a"), drain("parent-b")], { concurrency: "unbounded" })
        const remote = yield* child
        const all = [...local.flat(), ...remote]
        assert.strictEqual(new Set(all).size, all.length, "an item was claimed twice within a live lease")
        assert.strictEqual(all.length, 400)
        assert.isAbove(remote.length, 0)
      }).pipe(Effect.scoped),
    { timeout: 30_000 }
  )
})

describe("sqlite: signing secrets from before sealing", () => {
  it.effect("once resealSecrets sealed them, no byte of the database file or its WAL holds the old plaintext", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => mkdtemp(join(tmpdir(), "hlconnect-reseal-"))),
        (d) => Effect.promise(() => rm(d, { recursive: true, force: true }))
      )
      const filename = join(dir, "hlconnect.db")
      const plaintext = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
      const body = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
      const onDisk = () =>
        [filename, `${filename}-wal`]
          .filter(existsSync)
          .map((f) => readFileSync(f).toString("latin1"))
          .join("")
      // A database as an older version left it: the secret went in as plaintext (v3), then moved (v4).
      yield* Effect.gen(function* () {
        const sql = yield* SqlClient
        yield* Migrations.run({ upTo: 3 })
        yield* sql`INSERT INTO subscribers (subscriber_id, url, signing_secret, secret_hint, event_filter, enabled, created_at, updated_at)
          VALUES ('sub-old', 'https://old.example/h', ${plaintext}, 'whsec_…LaSw', '["*"]', 1, 1, 1)`
        yield* Migrations.run()
      }).pipe(Effect.provide(sqliteClient({ filename })))
      assert.include(onDisk(), body, "the test starts from a file that holds the plaintext")

      const counts = yield* Effect.gen(function* () {
        const counts = yield* Subscribers.resealSecrets
        const [opened] = yield* Subscribers.signingSecrets("sub-old")
        assert.strictEqual(opened === undefined ? undefined : Redacted.value(opened), plaintext)
        assert.notInclude(onDisk(), body, "while open")
        return counts
      }).pipe(Effect.provide(Layer.merge(layerSqlite({ filename }), testSecretBox)))
      assert.deepStrictEqual(counts, { sealed: 1, resealed: 0 })
      assert.notInclude(onDisk(), body, "after closing")
    }).pipe(Effect.scoped)
  )
})
