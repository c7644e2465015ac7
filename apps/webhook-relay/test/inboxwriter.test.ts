import { Inbox, Store } from "@hlconnect/store"
import { Effect, Layer, Option } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as InboxWriter from "../src/InboxWriter.js"

const event = (eventId: string) => ({ eventId, source: "commerce", eventType: "order.paid", body: `{"id":"${eventId}"}` })

describe("InboxWriter (SQLite worker thread)", () => {
  it("behaves like Inbox.appendBatch: new/duplicate per event (in-batch too), rows readable by the store", async () => {
    const dir = await mkdtemp(join(tmpdir(), "relay-writer-"))
    try {
      const program = Effect.gen(function* () {
        const writer = yield* InboxWriter.make
        expect(writer.kind).toBe("sqlite-worker")
        const first = yield* writer.appendBatch([event("a"), event("b"), event("a")])
        expect(first.map((o) => o.outcome)).toEqual(["new", "new", "duplicate"])
        const second = yield* writer.appendBatch([event("b"), event("c")])
        expect(second.map((o) => o.outcome)).toEqual(["duplicate", "new"])
        // The store's own path agrees on what is already there.
        const viaStore = yield* Effect.flatMap(Inbox.Inbox, (i) => i.appendBatch([event("c"), event("d")]))
        expect(viaStore.map((o) => o.outcome)).toEqual(["duplicate", "new"])
        const stored = yield* Effect.flatMap(Inbox.Inbox, (i) => i.get("a"))
        expect(Option.map(stored, (e) => [e.state, e.attempts, e.eventType, e.body])).toEqual(
          Option.some(["pending", 0, "order.paid", '{"id":"a"}'])
        )
        const claimed = yield* Effect.flatMap(Inbox.Inbox, (i) => i.claim({ owner: "t", limit: 10, leaseMs: 1000 }))
        expect(claimed.map((c) => c.event.eventId).sort()).toEqual(["a", "b", "c", "d"])
      })
      await Effect.runPromise(
        Effect.scoped(program).pipe(Effect.provide(Layer.fresh(Store.layerSqlite({ filename: join(dir, "relay.db") }))))
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
