import { SqlClient } from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, type Scope } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Inbox } from "../src/Inbox.js"
import * as InboxWriter from "../src/InboxWriter.js"
import { layerSqlite } from "../src/Store.js"

const event = (eventId: string) => ({
  eventId,
  source: "commerce",
  eventType: "order.paid",
  body: `{"id":"${eventId}"}`
})

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "hlconnect-writer-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

/** A fresh store + writer on `filename`, torn down (worker terminated) at the end of `self`. */
const withWriter = <A, E>(filename: string, self: Effect.Effect<A, E, InboxWriter.InboxWriter | Inbox | SqlClient>) =>
  Effect.provide(self, InboxWriter.layer.pipe(Layer.provideMerge(layerSqlite({ filename }))))

describe("InboxWriter on a SQLite file (worker thread)", () => {
  it.live("survives closing and reopening: earlier events stay duplicates, new ones are appended", () =>
    Effect.gen(function* () {
      const filename = join(yield* tempDir, "data", "hlconnect.db")
      yield* withWriter(
        filename,
        Effect.gen(function* () {
          const writer = yield* InboxWriter.InboxWriter
          assert.strictEqual(writer.kind, "sqlite-worker")
          const outcomes = yield* writer.appendBatch([event("a"), event("b")])
          assert.deepStrictEqual(
            outcomes.map((o) => o.outcome),
            ["new", "new"]
          )
        })
      )
      yield* withWriter(
        filename,
        Effect.gen(function* () {
          const writer = yield* InboxWriter.InboxWriter
          const outcomes = yield* writer.appendBatch([event("b"), event("c"), event("c")])
          assert.deepStrictEqual(
            outcomes.map((o) => o.outcome),
            ["duplicate", "new", "duplicate"]
          )
          const stored = yield* Inbox.get("a")
          assert.deepStrictEqual(
            Option.map(stored, (e) => e.body),
            Option.some('{"id":"a"}')
          )
        })
      )
    }).pipe(Effect.scoped)
  )

  it.live("a failing commit is a StorageError for that batch; the writer keeps working afterwards", () =>
    Effect.gen(function* () {
      const filename = join(yield* tempDir, "hlconnect.db")
      yield* withWriter(
        filename,
        Effect.gen(function* () {
          const writer = yield* InboxWriter.InboxWriter
          const sql = yield* SqlClient
          // Make the worker's INSERT fail: a trigger refuses the row.
          yield* sql`CREATE TRIGGER refuse BEFORE INSERT ON webhook_inbox WHEN NEW.event_id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END`
          const failed = yield* writer.appendBatch([event("ok"), event("bad")]).pipe(Effect.flip)
          assert.strictEqual(failed._tag, "StorageError")
          assert.include(failed.message, "refused")
          assert.isTrue(Option.isNone(yield* Inbox.get("ok")), "the batch rolled back as a whole")
          const after = yield* writer.appendBatch([event("ok")])
          assert.deepStrictEqual(
            after.map((o) => o.outcome),
            ["new"]
          )
        })
      )
    }).pipe(Effect.scoped)
  )

  it.live("a database the worker cannot open is a clear StorageError at start", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const error = yield* InboxWriter.makeSqliteWorker(join(dir, "missing", "dir", "x.db")).pipe(
        Effect.scoped,
        Effect.flip
      )
      assert.strictEqual(error._tag, "StorageError")
      assert.include(error.message, "cannot open")
    }).pipe(Effect.scoped)
  )
})

describe("InboxWriter with an admission module (worker thread)", () => {
  const admission = { url: new URL("./fixtures/admission.ts", import.meta.url).href, options: { secret: "s3cret" } }
  const raw = (id: string, signature: string, body: string) => ({ id, signature, body: new TextEncoder().encode(body) })

  /** `use` with the admitting writer of a fresh SQLite store (and that store's services). */
  const withAdmitter = <A, E>(
    use: (
      admitBatch: NonNullable<InboxWriter.InboxWriterService["admitBatch"]>
    ) => Effect.Effect<A, E, Inbox | SqlClient | Scope.Scope>
  ) =>
    Effect.gen(function* () {
      const filename = join(yield* tempDir, "hlconnect.db")
      return yield* Effect.gen(function* () {
        const admitBatch = (yield* InboxWriter.makeWith({ admission })).admitBatch
        if (admitBatch === undefined) return yield* Effect.dieMessage("a SQLite writer with an admission module admits")
        return yield* use(admitBatch)
      }).pipe(Effect.provide(layerSqlite({ filename })))
    }).pipe(Effect.scoped)

  it.live("verdicts and commits per request, in order: stored, duplicate, rejected, not storable", () =>
    withAdmitter((admitBatch) =>
      Effect.gen(function* () {
        const outcomes = yield* admitBatch([
          raw("a", "s3cret", '{"type":"order.paid"}'),
          raw("b", "forged", '{"type":"order.paid"}'),
          raw("a", "s3cret", '{"type":"order.paid"}'),
          raw("c", "s3cret", "not json"),
          raw("d", "malformed", "{}"),
          raw("bad id!", "s3cret", '{"type":"order.paid"}')
        ])
        assert.deepStrictEqual(
          outcomes.map((o) =>
            o._tag === "Stored" ? `${o._tag}:${o.outcome}` : o._tag === "Rejected" ? `${o._tag}:${o.status}` : o._tag
          ),
          ["Stored:new", "Rejected:401", "Stored:duplicate", "Rejected:422", "NotStored", "NotStored"]
        )
        // Only the admitted, storable event is in the inbox; a later batch sees it as a duplicate.
        assert.isTrue(Option.isSome(yield* Inbox.get("a")))
        assert.isTrue(Option.isNone(yield* Inbox.get("b")))
        assert.isTrue(Option.isNone(yield* Inbox.get("c")))
        const again = yield* admitBatch([
          raw("a", "s3cret", '{"type":"order.paid"}'),
          raw("e", "s3cret", '{"type":"order.refunded"}')
        ])
        assert.deepStrictEqual(
          again.map((o) => (o._tag === "Stored" ? o.outcome : o._tag)),
          ["duplicate", "new"]
        )
        assert.deepStrictEqual(
          Option.map(yield* Inbox.get("e"), (e) => e.eventType),
          Option.some("order.refunded")
        )
      })
    )
  )

  it.live(
    "chunks handed over together are answered each with its own outcomes, duplicates judged across them in order",
    () =>
      withAdmitter((admitBatch) =>
        Effect.gen(function* () {
          // Ten chunks in the same turn (the writer may commit them together): chunk k holds k, k+1 and "shared".
          const chunks = Array.from({ length: 10 }, (_, k) => [
            raw(`e${k}`, "s3cret", '{"type":"order.paid"}'),
            raw(`e${k + 1}`, "s3cret", '{"type":"order.paid"}'),
            raw("shared", k % 2 === 0 ? "s3cret" : "forged", '{"type":"order.paid"}')
          ])
          const outcomes = yield* Effect.all(chunks.map(admitBatch), { concurrency: "unbounded" })
          const seen = outcomes.map((o) =>
            o.map((x) => (x._tag === "Stored" ? x.outcome : x._tag === "Rejected" ? x.status : x._tag))
          )
          assert.deepStrictEqual(seen[0], ["new", "new", "new"])
          for (let k = 1; k < 10; k++)
            assert.deepStrictEqual(seen[k], ["duplicate", "new", k % 2 === 0 ? "duplicate" : 401], `chunk ${k}`)
          const sql = yield* SqlClient
          const rows = yield* sql<{ readonly n: number }>`SELECT COUNT(*) AS n FROM webhook_inbox`
          assert.strictEqual(rows[0]?.n, 12)
        })
      )
  )

  it.live("a failed commit answers NotStored to every request it held, and the writer carries on", () =>
    withAdmitter((admitBatch) =>
      Effect.gen(function* () {
        const sql = yield* SqlClient
        yield* sql`CREATE TRIGGER refuse BEFORE INSERT ON webhook_inbox WHEN NEW.event_id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END`
        const failed = yield* admitBatch([
          raw("ok", "s3cret", '{"type":"order.paid"}'),
          raw("bad", "s3cret", '{"type":"order.paid"}'),
          raw("x", "forged", "{}")
        ])
        assert.deepStrictEqual(
          failed.map((o) => o._tag),
          ["NotStored", "NotStored", "Rejected"]
        )
        assert.include(failed[0]?._tag === "NotStored" ? failed[0].message : "", "refused")
        assert.isTrue(Option.isNone(yield* Inbox.get("ok")), "nothing of the failed commit is stored")
        const after = yield* admitBatch([raw("ok", "s3cret", '{"type":"order.paid"}')])
        assert.deepStrictEqual(
          after.map((o) => (o._tag === "Stored" ? o.outcome : o._tag)),
          ["new"]
        )
      })
    )
  )

  it.live("a module without makeAdmission stops the writer from starting, with the reason", () =>
    Effect.gen(function* () {
      const filename = join(yield* tempDir, "hlconnect.db")
      const failed = yield* InboxWriter.makeWith({
        admission: { url: new URL("./utils.ts", import.meta.url).href, options: {} }
      }).pipe(Effect.provide(layerSqlite({ filename })), Effect.flip)
      assert.include(failed.message, "does not export makeAdmission")
    }).pipe(Effect.scoped)
  )
})
