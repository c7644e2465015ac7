/**
 * The SQLite store is private at rest, checked on real files with `stat`: DATA_DIR 0700, the
 * database and its -wal/-shm 0600 whatever the process umask; an existing wider directory is
 * reported (not changed), wider database files are tightened and reported.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger, LogLevel } from "effect"
import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OrderLines } from "../src/OrderLines.js"
import * as Store from "../src/Store.js"

const modeOf = (path: string) => statSync(path).mode & 0o777

const tempRoot = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "hlconnect-private-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

/** Run `self` with the process umask at `mask` (a permissive 022 unless told), restored after. */
const underUmask = <A, E, R>(mask: number, self: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => process.umask(mask)),
    () => self,
    (previous) => Effect.sync(() => process.umask(previous))
  )

/** Open the store under DATA_DIR `dataDir`, write one row (so the WAL is used), collect the logs. */
const openAndWrite = (dataDir: string, logs: Array<string>) =>
  OrderLines.create({
    orderNumber: "P-1",
    orderLineId: "A",
    asset: "a",
    quantity: 1,
    unitPriceMinor: 1,
    totalPriceMinor: 1,
    currency: "EUR",
    customerEmail: "private@example.com"
  }).pipe(
    Effect.flatMap(() =>
      Effect.sync(() => {
        // While the store is open: every file SQLite made is owner-only.
        const db = join(dataDir, "hlconnect.db")
        return { db: modeOf(db), wal: modeOf(`${db}-wal`), shm: modeOf(`${db}-shm`) }
      })
    ),
    Effect.provide(
      Store.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["DATA_DIR", dataDir]])))))
    ),
    Effect.provide(
      Logger.replace(
        Logger.defaultLogger,
        Logger.map(Logger.logfmtLogger, (line) => void logs.push(line))
      )
    ),
    Logger.withMinimumLogLevel(LogLevel.All)
  )

describe("private data at rest (SQLite)", () => {
  it.effect("a fresh start: DATA_DIR 0700, the database and its -wal/-shm 0600, the umask restored", () =>
    Effect.gen(function* () {
      const root = yield* tempRoot
      const dataDir = join(root, "nested", "data")
      const logs: Array<string> = []
      const modes = yield* underUmask(
        0o022,
        Effect.gen(function* () {
          const modes = yield* openAndWrite(dataDir, logs)
          assert.strictEqual(process.umask(), 0o022, "the store restores the umask it found")
          return modes
        })
      )
      assert.strictEqual(modeOf(join(root, "nested")), 0o700)
      assert.strictEqual(modeOf(dataDir), 0o700)
      assert.deepStrictEqual(modes, { db: 0o600, wal: 0o600, shm: 0o600 })
      assert.isFalse(
        logs.some((l) => l.includes("level=WARN")),
        logs.join("\n")
      )
    }).pipe(Effect.scoped)
  )

  it.effect(
    "an existing 0755 DATA_DIR is reported (path, mode, fix) and left alone; a 0644 database is tightened and reported",
    () =>
      Effect.gen(function* () {
        const root = yield* tempRoot
        const dataDir = join(root, "data")
        // A data directory and database made before this check, as the issue found them.
        yield* underUmask(0o022, openAndWrite(dataDir, []))
        const db = join(dataDir, "hlconnect.db")
        chmodSync(dataDir, 0o755)
        chmodSync(db, 0o644)
        for (const companion of [`${db}-wal`, `${db}-shm`]) if (existsSync(companion)) chmodSync(companion, 0o644)

        const logs: Array<string> = []
        const modes = yield* underUmask(0o022, openAndWrite(dataDir, logs))
        const warning = logs.find((l) => l.includes("level=WARN") && l.includes(dataDir) && l.includes("0755"))
        assert.isDefined(warning, logs.join("\n"))
        assert.include(warning, `chmod 700 ${dataDir}`)
        assert.strictEqual(modeOf(dataDir), 0o755, "someone's directory is not changed behind their back")
        assert.isTrue(
          logs.some(
            (l) => l.includes("level=WARN") && l.includes(db) && l.includes("0644") && l.includes("tightened to 0600")
          ),
          logs.join("\n")
        )
        assert.deepStrictEqual(modes, { db: 0o600, wal: 0o600, shm: 0o600 })
      }).pipe(Effect.scoped)
  )

  it.effect("a fresh directory made by the store is created 0700 even when its parent exists", () =>
    Effect.gen(function* () {
      const root = yield* tempRoot
      mkdirSync(join(root, "parent"), { mode: 0o755 })
      const dataDir = join(root, "parent", "data")
      yield* underUmask(0o022, openAndWrite(dataDir, []))
      assert.strictEqual(modeOf(dataDir), 0o700)
      assert.strictEqual(modeOf(join(root, "parent")), 0o755)
    }).pipe(Effect.scoped)
  )
})
