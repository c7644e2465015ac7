import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { Inbox } from "../src/Inbox.js"
import { OrderLines } from "../src/OrderLines.js"
import { layerPg } from "../src/Store.js"
import { childWorker, postgresUrl, scopedSchema } from "./utils.js"

const url = postgresUrl()

const events = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    eventId: `${prefix}-${i}`,
    source: "vendor",
    eventType: "order.paid",
    body: "{}"
  }))

/** Claim until the queue looks empty; long leases so nothing comes back during the test. */
const drain = (owner: string) =>
  Effect.gen(function* () {
    const inbox = yield* Inbox
    const claimed: Array<string> = []
    let idle = 0
    while (idle < 3) {
      const batch = yield* inbox.claim({ owner, limit: 7, leaseMs: 60_000 })
      if (batch.length === 0) {
        idle++
        yield* Effect.sleep("15 millis")
      } else {
        idle = 0
        claimed.push(...batch.map((c) => c.event.eventId))
      }
    }
    return claimed
  })

const assertClaimedOnce = (claims: ReadonlyArray<ReadonlyArray<string>>, expected: number) => {
  const all = claims.flat()
  const unique = new Set(all)
  assert.strictEqual(all.length, unique.size, "an item was claimed twice within a live lease")
  assert.strictEqual(unique.size, expected, "every item was claimed")
}

if (url === undefined) {
  describe.skip("pg concurrency (SKIPPED: DATABASE_URL not set)", () => {
    it("needs PostgreSQL", () => {})
  })
} else {
  const storeIn = (schema: string) => layerPg({ url: Redacted.make(url), schema, maxConnections: 8 })
  const withSchema = <A, E, R>(f: (schema: string) => Effect.Effect<A, E, R>) =>
    Effect.scoped(Effect.flatMap(scopedSchema(url), f))

  describe("pg concurrency", () => {
    it.live("several connections never claim the same item within a live lease", () =>
      withSchema((schema) =>
        Effect.gen(function* () {
          yield* Inbox.appendBatch(events("multi", 400))
          const claims = yield* Effect.all(
            Array.from({ length: 6 }, (_, i) => drain(`fiber-${i}`)),
            { concurrency: "unbounded" }
          )
          assertClaimedOnce(claims, 400)
          assert.isTrue(claims.filter((c) => c.length > 0).length > 1, "work was spread over several connections")
        }).pipe(Effect.provide(storeIn(schema)))
      )
    )

    it.live(
      "a second OS process claiming from the same database never overlaps",
      () =>
        withSchema((schema) =>
          Effect.gen(function* () {
            yield* Inbox.appendBatch(events("proc", 500))
            yield* Inbox.appendBatch(events("proc2", 500))
            const child = yield* childWorker({ DATABASE_URL: url, STORE_SCHEMA: schema, WORKER_OWNER: "child-process" })
            const local = yield* Effect.all([drain("parent-a"), drain("parent-b"), drain("parent-c")], {
              concurrency: "unbounded"
            })
            const remote = yield* child
            assertClaimedOnce([...local, remote], 1000)
            assert.isAbove(remote.length, 0, "the second process got work")
            assert.isAbove(local.flat().length, 0, "this process got work")
          }).pipe(Effect.provide(storeIn(schema)))
        ),
      { timeout: 30_000 }
    )

    it.live("an abandoned lease is reclaimed after its TTL, and the old holder can no longer complete", () =>
      withSchema((schema) =>
        Effect.gen(function* () {
          yield* Inbox.appendBatch(events("ttl", 10))
          const crashed = yield* Inbox.claim({ owner: "crashed", limit: 10, leaseMs: 300 })
          assert.strictEqual(crashed.length, 10)
          assert.strictEqual((yield* Inbox.claim({ owner: "rescuer", limit: 10, leaseMs: 5000 })).length, 0)
          yield* Effect.sleep("350 millis")
          const rescued = yield* Inbox.claim({ owner: "rescuer", limit: 10, leaseMs: 5000 })
          assert.strictEqual(rescued.length, 10)
          const first = crashed[0]
          if (first === undefined) return assert.fail("no claim")
          assert.strictEqual((yield* Inbox.complete(first.lease).pipe(Effect.flip))._tag, "LeaseLost")
          yield* Effect.forEach(rescued, (c) => Inbox.complete(c.lease), { concurrency: 4 })
        }).pipe(Effect.provide(storeIn(schema)))
      )
    )

    it.live("concurrent compare-and-set: exactly one writer wins, the rest get StaleVersion", () =>
      withSchema((schema) =>
        Effect.gen(function* () {
          yield* OrderLines.create({
            orderNumber: "CAS-1",
            orderLineId: "A",
            asset: "a",
            quantity: 1,
            unitPriceMinor: 1,
            totalPriceMinor: 1,
            currency: "EUR",
            customerEmail: "a@b.example"
          })
          const targets = [
            "registering",
            "cancel_requested",
            "failed",
            "registering",
            "cancel_requested",
            "failed",
            "registering",
            "failed"
          ] as const
          const results = yield* Effect.all(
            targets.map((to) =>
              OrderLines.transition({ orderNumber: "CAS-1", orderLineId: "A", expectedVersion: 1, to }).pipe(
                Effect.either
              )
            ),
            { concurrency: "unbounded" }
          )
          const wins = results.filter((r) => r._tag === "Right")
          const stale = results.filter((r) => r._tag === "Left" && r.left._tag === "StaleVersion")
          assert.strictEqual(wins.length, 1)
          assert.strictEqual(stale.length, targets.length - 1)
          const final = yield* OrderLines.get({ orderNumber: "CAS-1", orderLineId: "A" })
          assert.strictEqual(final.version, 2)
        }).pipe(Effect.provide(storeIn(schema)))
      )
    )

    it.live("replicas starting at once migrate safely (advisory lock)", () =>
      withSchema((schema) =>
        Effect.gen(function* () {
          const started = yield* Effect.all(
            Array.from({ length: 3 }, () => Effect.scoped(Layer.build(storeIn(schema)))),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(started.length, 3)
        })
      )
    )
  })
}
