import { SqlClient } from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Redacted, TestClock } from "effect"
import { Inbox } from "../src/Inbox.js"
import * as InboxWriter from "../src/InboxWriter.js"
import * as Migrations from "../src/Migrations.js"
import { type NewOrderLine, OrderLines } from "../src/OrderLines.js"
import { Outbox } from "../src/Outbox.js"
import { ReconcileRuns } from "../src/ReconcileRuns.js"
import { layerServices, Store } from "../src/Store.js"
import { Subscribers } from "../src/Subscribers.js"
import type { EngineUnderTest } from "./utils.js"

const line = (orderNumber: string, orderLineId: string, extra: Partial<NewOrderLine> = {}): NewOrderLine => ({
  orderNumber,
  orderLineId,
  asset: "HL-ASSET-1",
  quantity: 2,
  unitPriceMinor: 1250,
  totalPriceMinor: 2500,
  currency: "EUR",
  customerEmail: "buyer@example.com",
  validationToken: Redacted.make("tok_secret_123"),
  tokenExpiresAt: 1_000_000,
  ...extra
})

const count = (table: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient
    const rows = yield* sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM ${sql(table)}`
    return Number(rows[0]?.n)
  })

const secret = Redacted.make("whsec_abcdefghijklmnop1234")

/** Untrusted input as it arrives from JSON (the type system cannot vouch for it). */
const fromJson = (json: string) => JSON.parse(json)

/** The behavioural suite, written once and run against every engine. */
export const storeSuite = (engine: EngineUnderTest) =>
  describe(`store on ${engine.name}`, () => {
    const provideStore = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.provide(self, engine.store())

    describe("migrations", () => {
      it.effect("from empty: creates every table; a second run is a no-op", () =>
        Effect.gen(function* () {
          const first = yield* Migrations.run()
          assert.deepStrictEqual(first.map(([id]) => id), [1, 2, 3])
          const again = yield* Migrations.run()
          assert.strictEqual(again.length, 0)
          for (const table of ["orders", "order_lines", "webhook_inbox", "subscribers", "outbound_events", "deliveries", "reconcile_runs", "reconcile_drifts"]) {
            assert.strictEqual(yield* count(table), 0, table)
          }
        }).pipe(Effect.provide(engine.emptyClient())))

      it.effect("from the previous version: data written by v1 survives the upgrade", () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient
          yield* Migrations.run({ upTo: 1 })
          yield* sql`INSERT INTO orders (order_number, next_check_at, attempts, created_at, updated_at) VALUES ('V1-1', 5, 0, 1, 1)`
          yield* sql`INSERT INTO order_lines (order_number, order_line_id, asset, quantity, unit_price_minor, total_price_minor,
            currency, customer_email, state, attempts, version, created_at, updated_at)
            VALUES ('V1-1', 'L1', 'asset', 1, 100, 100, 'EUR', 'a@b.example', 'registered', 3, 4, 1, 2)`
          yield* sql`INSERT INTO webhook_inbox (event_id, source, event_type, body, received_at, state, attempts, next_attempt_at, updated_at)
            VALUES ('evt-v1', 'vendor', 'order.paid', '{"x":1}', 1, 'pending', 0, 1, 1)`
          const upgraded = yield* Migrations.run()
          assert.deepStrictEqual(upgraded.map(([id]) => id), [2, 3])
          const services = yield* Layer.build(layerServices)
          const found = yield* OrderLines.get({ orderNumber: "V1-1", orderLineId: "L1" }).pipe(Effect.provide(services))
          assert.strictEqual(found.state, "registered")
          assert.strictEqual(found.version, 4)
          const event = yield* Inbox.get("evt-v1").pipe(Effect.provide(services))
          assert.isTrue(Option.isSome(event))
          assert.isTrue(Option.isNone(Option.flatMap(event, (e) => e.processedAt)))
        }).pipe(Effect.scoped, Effect.provide(engine.emptyClient())))
    })

    describe("order lines", () => {
      it.effect("create is idempotent per (order_number, order_line_id)", () =>
        Effect.gen(function* () {
          const first = yield* OrderLines.create(line("1001", "A"))
          assert.isTrue(first.created)
          assert.strictEqual(first.line.state, "paid")
          assert.strictEqual(first.line.version, 1)
          assert.strictEqual(Option.map(first.line.validationToken, Redacted.value).pipe(Option.getOrNull), "tok_secret_123")
          assert.notInclude(String(first.line.validationToken), "tok_secret_123")
          const again = yield* OrderLines.create(line("1001", "A", { asset: "other" }))
          assert.isFalse(again.created)
          assert.strictEqual(again.line.asset, "HL-ASSET-1")
          assert.strictEqual(yield* count("order_lines"), 1)
        }).pipe(provideStore))

      it.effect("keeps a line's ensemble parts, and refuses too many", () =>
        Effect.gen(function* () {
          const parts = [
            { asset: "4004", orderLineId: "2" },
            { asset: "4005", orderLineId: "3" }
          ]
          const { line: created } = yield* OrderLines.create(line("1009", "1", { parts }))
          assert.deepStrictEqual(Option.getOrNull(created.parts), parts)
          const plain = yield* OrderLines.create(line("1009", "4"))
          assert.isTrue(Option.isNone(plain.line.parts))
          const tooMany = Array.from({ length: 65 }, (_, i) => ({ asset: "4004", orderLineId: `p${i}` }))
          const refused = yield* Effect.flip(OrderLines.create(line("1010", "1", { parts: tooMany })))
          assert.strictEqual(refused._tag, "InvalidInput")
          assert.strictEqual(yield* count("order_lines"), 2)
        }).pipe(provideStore))

      it.effect("walks the happy path, bumping the version each step", () =>
        Effect.gen(function* () {
          const { line: created } = yield* OrderLines.create(line("1002", "A"))
          let version = created.version
          for (const to of ["registering", "registered", "processing", "completed"] as const) {
            const next = yield* OrderLines.transition({ orderNumber: "1002", orderLineId: "A", expectedVersion: version, to })
            assert.strictEqual(next.state, to)
            assert.strictEqual(next.version, version + 1)
            version = next.version
          }
          const done = yield* OrderLines.get({ orderNumber: "1002", orderLineId: "A" })
          assert.isTrue(Option.isNone(done.nextCheckAt), "terminal lines are not checked again")
        }).pipe(provideStore))

      it.effect("an illegal transition is a typed error and changes nothing", () =>
        Effect.gen(function* () {
          const { line: created } = yield* OrderLines.create(line("1003", "A"))
          const error = yield* OrderLines.transition({ orderNumber: "1003", orderLineId: "A", expectedVersion: 1, to: "completed" }).pipe(Effect.flip)
          assert.strictEqual(error._tag, "IllegalTransition")
          if (error._tag === "IllegalTransition") {
            assert.strictEqual(error.from, "paid")
            assert.strictEqual(error.to, "completed")
          }
          const after = yield* OrderLines.get({ orderNumber: "1003", orderLineId: "A" })
          assert.deepStrictEqual(after, created)
        }).pipe(provideStore))

      it.effect("a stale compare-and-set fails with StaleVersion and does not undo newer work", () =>
        Effect.gen(function* () {
          yield* OrderLines.create(line("1004", "A"))
          yield* OrderLines.transition({ orderNumber: "1004", orderLineId: "A", expectedVersion: 1, to: "registering" })
          const stale = yield* OrderLines.transition({ orderNumber: "1004", orderLineId: "A", expectedVersion: 1, to: "cancel_requested" }).pipe(Effect.flip)
          assert.strictEqual(stale._tag, "StaleVersion")
          if (stale._tag === "StaleVersion") assert.strictEqual(stale.actual, 2)
          const staleCheck = yield* OrderLines.recordCheck({ orderNumber: "1004", orderLineId: "A", expectedVersion: 1, lastError: "x" }).pipe(Effect.flip)
          assert.strictEqual(staleCheck._tag, "StaleVersion")
          const current = yield* OrderLines.get({ orderNumber: "1004", orderLineId: "A" })
          assert.strictEqual(current.state, "registering")
          assert.isTrue(Option.isNone(current.lastError))
        }).pipe(provideStore))

      it.effect("needs_attention requires a reason and records it; recordCheck keeps the state", () =>
        Effect.gen(function* () {
          yield* OrderLines.create(line("1005", "A"))
          const missing = yield* OrderLines.transition({ orderNumber: "1005", orderLineId: "A", expectedVersion: 1, to: "needs_attention" }).pipe(Effect.flip)
          assert.strictEqual(missing._tag, "InvalidInput")
          const checked = yield* OrderLines.recordCheck({
            orderNumber: "1005", orderLineId: "A", expectedVersion: 1,
            attempts: 1, nextCheckAt: 60_000, lastError: "timeout", remoteSnapshot: { status: "unknown", n: 1 }
          })
          assert.strictEqual(checked.state, "paid")
          assert.deepStrictEqual(Option.getOrNull(checked.remoteSnapshot), { status: "unknown", n: 1 })
          const flagged = yield* OrderLines.transition({
            orderNumber: "1005", orderLineId: "A", expectedVersion: 2, to: "needs_attention", reason: "token expired before registration"
          })
          assert.strictEqual(Option.getOrNull(flagged.attentionReason), "token expired before registration")
          const resolved = yield* OrderLines.transition({ orderNumber: "1005", orderLineId: "A", expectedVersion: 3, to: "cancel_requested" })
          assert.isTrue(Option.isNone(resolved.attentionReason))
        }).pipe(provideStore))

      it.effect("replaceValidationToken: compare-and-set, paid or needs_attention only, needs_attention goes back to paid", () =>
        Effect.gen(function* () {
          const key = { orderNumber: "1011", orderLineId: "A" }
          yield* OrderLines.create(line("1011", "A"))
          const fresh = Redacted.make("tok_fresh_456")
          const onPaid = yield* OrderLines.replaceValidationToken({ ...key, expectedVersion: 1, token: fresh, tokenExpiresAt: 2_000_000 })
          assert.strictEqual(onPaid.state, "paid")
          assert.strictEqual(onPaid.version, 2)
          assert.strictEqual(Option.map(onPaid.validationToken, Redacted.value).pipe(Option.getOrNull), "tok_fresh_456")
          assert.strictEqual(Option.getOrNull(onPaid.tokenExpiresAt), 2_000_000)
          const flagged = yield* OrderLines.transition({
            ...key, expectedVersion: 2, to: "needs_attention", reason: "validation token expired", lastError: "expired", attempts: 3
          })
          const stale = yield* OrderLines.replaceValidationToken({ ...key, expectedVersion: 2, token: fresh }).pipe(Effect.flip)
          assert.strictEqual(stale._tag, "StaleVersion")
          const back = yield* OrderLines.replaceValidationToken({ ...key, expectedVersion: flagged.version, token: Redacted.make("tok_third") })
          assert.strictEqual(back.state, "paid")
          assert.strictEqual(back.version, flagged.version + 1)
          assert.isTrue(Option.isNone(back.attentionReason))
          assert.isTrue(Option.isNone(back.lastError))
          assert.isTrue(Option.isNone(back.tokenExpiresAt), "an omitted expiry clears the old one")
          assert.strictEqual(back.attempts, 0)
          assert.isTrue(Option.isSome(back.nextCheckAt), "due for a check again")
          assert.strictEqual(String(back.validationToken.pipe(Option.getOrNull)), "<redacted>")
          const registering = yield* OrderLines.transition({ ...key, expectedVersion: back.version, to: "registering" })
          const refused = yield* OrderLines.replaceValidationToken({ ...key, expectedVersion: registering.version, token: fresh }).pipe(Effect.flip)
          assert.strictEqual(refused._tag, "IllegalTransition")
          if (refused._tag === "IllegalTransition") assert.strictEqual(refused.from, "registering")
          const missing = yield* OrderLines.replaceValidationToken({ orderNumber: "nope", orderLineId: "A", expectedVersion: 1, token: fresh }).pipe(Effect.flip)
          assert.strictEqual(missing._tag, "NotFound")
          const empty = yield* OrderLines.replaceValidationToken({ ...key, expectedVersion: registering.version, token: Redacted.make("") }).pipe(Effect.flip)
          assert.strictEqual(empty._tag, "InvalidInput")
          const after = yield* OrderLines.get(key)
          assert.deepStrictEqual(after, registering)
        }).pipe(provideStore))

      it.effect("bad input (unknown state, malformed ids, oversize snapshot) is InvalidInput and leaves the database unchanged", () =>
        Effect.gen(function* () {
          const { line: created } = yield* OrderLines.create(line("1006", "A"))
          const unknownState = yield* OrderLines.transition(
            fromJson('{"orderNumber":"1006","orderLineId":"A","expectedVersion":1,"to":"shipped"}')
          ).pipe(Effect.flip)
          assert.strictEqual(unknownState._tag, "InvalidInput")
          if (unknownState._tag === "InvalidInput") assert.strictEqual(unknownState.field, "to")
          const badId = yield* OrderLines.create(line("10 07; DROP TABLE orders", "A")).pipe(Effect.flip)
          assert.strictEqual(badId._tag, "InvalidInput")
          if (badId._tag === "InvalidInput") assert.strictEqual(badId.field, "orderNumber")
          const badQty = yield* OrderLines.create(line("1007", "A", { quantity: 0 })).pipe(Effect.flip)
          assert.strictEqual(badQty._tag, "InvalidInput")
          const huge = yield* OrderLines.recordCheck({
            orderNumber: "1006", orderLineId: "A", expectedVersion: 1, remoteSnapshot: { blob: "x".repeat(70_000) }
          }).pipe(Effect.flip)
          assert.strictEqual(huge._tag, "InvalidInput")
          assert.strictEqual(yield* count("order_lines"), 1)
          assert.strictEqual(yield* count("orders"), 1)
          assert.deepStrictEqual(yield* OrderLines.get({ orderNumber: "1006", orderLineId: "A" }), created)
          const missing = yield* OrderLines.get({ orderNumber: "nope", orderLineId: "A" }).pipe(Effect.flip)
          assert.strictEqual(missing._tag, "NotFound")
        }).pipe(provideStore))

      it.effect("reads orders by number and lists by state with cursor paging", () =>
        Effect.gen(function* () {
          for (const [o, l] of [["2001", "A"], ["2001", "B"], ["2002", "A"], ["2003", "A"], ["2003", "B"]] as const) {
            yield* OrderLines.create(line(o, l))
          }
          yield* OrderLines.transition({ orderNumber: "2002", orderLineId: "A", expectedVersion: 1, to: "registering" })
          const order = yield* OrderLines.findOrder("2001")
          assert.deepStrictEqual(Option.map(order, (o) => o.lines.map((l) => l.orderLineId)), Option.some(["A", "B"]))
          assert.isTrue(Option.isNone(yield* OrderLines.findOrder("9999")))
          const seen: Array<string> = []
          let cursor: string | undefined
          let pages = 0
          do {
            const page = yield* OrderLines.listByState({ state: "paid", limit: 2, ...(cursor === undefined ? {} : { cursor }) })
            seen.push(...page.items.map((l) => `${l.orderNumber}/${l.orderLineId}`))
            cursor = Option.getOrUndefined(page.nextCursor)
            pages++
          } while (cursor !== undefined)
          assert.deepStrictEqual(seen, ["2001/A", "2001/B", "2003/A", "2003/B"])
          assert.strictEqual(pages, 2)
          const bad = yield* OrderLines.listByState({ state: "paid", limit: 2, cursor: "not-a-cursor" }).pipe(Effect.flip)
          assert.strictEqual(bad._tag, "InvalidInput")
        }).pipe(provideStore))

      it.effect("reads many orders at once, and pages orders (not lines) by state", () =>
        Effect.gen(function* () {
          for (const [o, l] of [["2101", "A"], ["2101", "B"], ["2102", "A"], ["2103", "A"], ["2103", "B"], ["2104", "A"]] as const) {
            yield* OrderLines.create(line(o, l))
          }
          yield* OrderLines.transition({ orderNumber: "2102", orderLineId: "A", expectedVersion: 1, to: "registering" })
          const found = yield* OrderLines.findOrders(["2101", "2103", "9999", "2101"])
          assert.deepStrictEqual([...found.keys()].sort(), ["2101", "2103"])
          assert.deepStrictEqual(found.get("2103")?.lines.map((l) => l.orderLineId), ["A", "B"])
          assert.strictEqual((yield* OrderLines.findOrders([])).size, 0)
          assert.strictEqual((yield* OrderLines.findOrders(["bad id!"]).pipe(Effect.flip))._tag, "InvalidInput")

          const seen: Array<string> = []
          let cursor: string | undefined
          do {
            const page = yield* OrderLines.listOrdersByState({ state: "paid", limit: 2, ...(cursor === undefined ? {} : { cursor }) })
            seen.push(...page.items.map((item) => item.orderNumber))
            cursor = Option.getOrUndefined(page.nextCursor)
          } while (cursor !== undefined)
          assert.deepStrictEqual(seen, ["2101", "2103", "2104"], "each order once, however many lines it has")
          const first = yield* OrderLines.listOrdersByState({ state: "paid", limit: 3 })
          const resumed = yield* OrderLines.listOrdersByState({ state: "paid", limit: 3, cursor: first.items[0]?.cursor ?? "" })
          assert.deepStrictEqual(resumed.items.map((item) => item.orderNumber), ["2103", "2104"], "an item's cursor resumes after it")
          const bad = yield* OrderLines.listOrdersByState({ state: "paid", limit: 2, cursor: "nope" }).pipe(Effect.flip)
          assert.strictEqual(bad._tag, "InvalidInput")
        }).pipe(provideStore))

      it.effect("claims per ORDER NUMBER: one worker gets all lines; lease expiry returns the order", () =>
        Effect.gen(function* () {
          yield* OrderLines.create(line("3001", "A"))
          yield* OrderLines.create(line("3001", "B"))
          yield* OrderLines.create(line("3002", "A", { nextCheckAt: 10_000 }))
          const first = yield* OrderLines.claimDueOrders({ owner: "w1", limit: 10, leaseMs: 1000 })
          assert.deepStrictEqual(first.map((c) => c.lease.itemId), ["3001"])
          assert.deepStrictEqual(first[0]?.lines.map((l) => l.orderLineId), ["A", "B"])
          assert.strictEqual((yield* OrderLines.claimDueOrders({ owner: "w2", limit: 10, leaseMs: 1000 })).length, 0)
          yield* TestClock.adjust(1001)
          const reclaimed = yield* OrderLines.claimDueOrders({ owner: "w2", limit: 10, leaseMs: 60_000 })
          assert.deepStrictEqual(reclaimed.map((c) => c.lease.itemId), ["3001"])
          const oldLease = first[0]?.lease
          if (oldLease === undefined) return assert.fail("no lease")
          const lost = yield* OrderLines.releaseOrder(oldLease).pipe(Effect.flip)
          assert.strictEqual(lost._tag, "LeaseLost")
          const lease = reclaimed[0]?.lease
          if (lease === undefined) return assert.fail("no lease")
          const renewed = yield* OrderLines.renewOrderLease(lease, 120_000)
          assert.strictEqual(renewed.expiresAt, 1001 + 120_000)
          // Finish one line and schedule the other: release recomputes the next check from the lines.
          yield* OrderLines.recordCheck({ orderNumber: "3001", orderLineId: "A", expectedVersion: 1, nextCheckAt: 50_000 })
          yield* OrderLines.transition({ orderNumber: "3001", orderLineId: "B", expectedVersion: 1, to: "failed" })
          yield* OrderLines.releaseOrder(renewed)
          const order = yield* OrderLines.findOrder("3001")
          assert.deepStrictEqual(Option.flatMap(order, (o) => o.nextCheckAt), Option.some(50_000))
          yield* TestClock.adjust(10_000)
          const due = yield* OrderLines.claimDueOrders({ owner: "w3", limit: 10, leaseMs: 1000 })
          assert.deepStrictEqual(due.map((c) => c.lease.itemId), ["3002"])
        }).pipe(provideStore))
    })

    describe("inbox", () => {
      const event = (eventId: string, body = '{"ok":true}') => ({ eventId, source: "vendor", eventType: "order.paid", body })

      it.effect("takes batches in one statement and tells new from duplicate", () =>
        Effect.gen(function* () {
          const first = yield* Inbox.appendBatch([event("e1"), event("e2"), event("e1")])
          assert.deepStrictEqual(first.map((o) => o.outcome), ["new", "new", "duplicate"])
          const second = yield* Inbox.appendBatch([event("e2"), event("e3")])
          assert.deepStrictEqual(second.map((o) => o.outcome), ["duplicate", "new"])
          assert.strictEqual(yield* count("webhook_inbox"), 3)
        }).pipe(provideStore))

      it.effect("an oversize or malformed event rejects the whole batch, nothing written", () =>
        Effect.gen(function* () {
          const big = yield* Inbox.appendBatch([event("ok-1"), event("big", "x".repeat(1024 * 1024 + 1))]).pipe(Effect.flip)
          assert.strictEqual(big._tag, "InvalidInput")
          if (big._tag === "InvalidInput") assert.strictEqual(big.field, "1.body")
          const badId = yield* Inbox.appendBatch([event("has space")]).pipe(Effect.flip)
          assert.strictEqual(badId._tag, "InvalidInput")
          const empty = yield* Inbox.appendBatch([]).pipe(Effect.flip)
          assert.strictEqual(empty._tag, "InvalidInput")
          assert.strictEqual(yield* count("webhook_inbox"), 0)
        }).pipe(provideStore))

      it.live("InboxWriter (engine's choice) behaves like appendBatch: new/duplicate per event, rows readable, bad input writes nothing", () =>
        Effect.gen(function* () {
          const writer = yield* InboxWriter.InboxWriter
          assert.strictEqual(writer.kind, engine.name === "sqlite" ? "sqlite-worker" : "store")
          const first = yield* writer.appendBatch([event("w1"), event("w2"), event("w1")])
          assert.deepStrictEqual(first.map((o) => [o.eventId, o.outcome]), [["w1", "new"], ["w2", "new"], ["w1", "duplicate"]])
          const second = yield* writer.appendBatch([event("w2"), event("w3")])
          assert.deepStrictEqual(second.map((o) => o.outcome), ["duplicate", "new"])
          // The store's own path agrees on what is there, and the other way round.
          const viaStore = yield* Inbox.appendBatch([event("w3"), event("w4")])
          assert.deepStrictEqual(viaStore.map((o) => o.outcome), ["duplicate", "new"])
          const afterStore = yield* writer.appendBatch([event("w4")])
          assert.deepStrictEqual(afterStore.map((o) => o.outcome), ["duplicate"])
          const stored = yield* Inbox.get("w1")
          assert.deepStrictEqual(
            Option.map(stored, (e) => [e.state, e.attempts, e.source, e.eventType, e.body, Option.isNone(e.lastError)]),
            Option.some(["pending", 0, "vendor", "order.paid", '{"ok":true}', true])
          )
          const bad = yield* writer.appendBatch([event("w5"), event("big", "x".repeat(1024 * 1024 + 1))]).pipe(Effect.flip)
          assert.strictEqual(bad._tag, "InvalidInput")
          if (bad._tag === "InvalidInput") assert.strictEqual(bad.field, "1.body")
          const empty = yield* Effect.flip(writer.appendBatch([]))
          assert.strictEqual(empty._tag, "InvalidInput")
          assert.strictEqual(yield* count("webhook_inbox"), 4)
          const claimed = yield* Inbox.claim({ owner: "t", limit: 10, leaseMs: 1000 })
          assert.deepStrictEqual(claimed.map((c) => c.event.eventId).sort(), ["w1", "w2", "w3", "w4"])
        }).pipe(Effect.provide(InboxWriter.layer.pipe(Layer.provideMerge(engine.store())))))

      it.effect("leases: no double claim while live, reclaim after TTL, complete requires the lease", () =>
        Effect.gen(function* () {
          yield* Inbox.appendBatch([event("a"), event("b"), event("c")])
          const w1 = yield* Inbox.claim({ owner: "w1", limit: 2, leaseMs: 5000 })
          const w2 = yield* Inbox.claim({ owner: "w2", limit: 5, leaseMs: 5000 })
          assert.deepStrictEqual(w1.map((c) => c.event.eventId).concat(w2.map((c) => c.event.eventId)).sort(), ["a", "b", "c"])
          assert.strictEqual(w2.length, 1)
          assert.strictEqual((yield* Inbox.claim({ owner: "w3", limit: 5, leaseMs: 5000 })).length, 0)
          const [a, b] = w1
          if (a === undefined || b === undefined) return assert.fail("expected two claims")
          yield* Inbox.complete(a.lease)
          assert.strictEqual((yield* Inbox.complete(a.lease).pipe(Effect.flip))._tag, "LeaseLost")
          const renewed = yield* Inbox.renew(b.lease, 20_000)
          yield* TestClock.adjust(5001)
          // w2's lease lapsed, w1's renewed one did not.
          const w3 = yield* Inbox.claim({ owner: "w3", limit: 5, leaseMs: 5000 })
          assert.deepStrictEqual(w3.map((c) => c.event.eventId), w2.map((c) => c.event.eventId))
          assert.strictEqual(w3[0]?.event.attempts, 2)
          const stale = w2[0]
          if (stale === undefined) return assert.fail("expected a claim")
          assert.strictEqual((yield* Inbox.complete(stale.lease).pipe(Effect.flip))._tag, "LeaseLost")
          assert.strictEqual((yield* Inbox.renew(stale.lease, 1000).pipe(Effect.flip))._tag, "LeaseLost")
          yield* Inbox.complete(renewed)
          const done = yield* Inbox.get("a")
          assert.strictEqual(Option.map(done, (e) => e.state).pipe(Option.getOrNull), "processed")
        }).pipe(provideStore))

      it.effect("retryLater delays, deadLetter parks, replay re-queues", () =>
        Effect.gen(function* () {
          yield* Inbox.appendBatch([event("r1")])
          const [c1] = yield* Inbox.claim({ owner: "w", limit: 1, leaseMs: 1000 })
          if (c1 === undefined) return assert.fail("claim")
          yield* Inbox.retryLater(c1.lease, { error: "boom", nextAttemptAt: 10_000 })
          assert.strictEqual((yield* Inbox.claim({ owner: "w", limit: 1, leaseMs: 1000 })).length, 0)
          yield* TestClock.adjust(10_000)
          const [c2] = yield* Inbox.claim({ owner: "w", limit: 1, leaseMs: 1000 })
          if (c2 === undefined) return assert.fail("claim after retry delay")
          assert.strictEqual(Option.getOrNull(c2.event.lastError), "boom")
          yield* Inbox.deadLetter(c2.lease, { error: "gave up" })
          assert.deepStrictEqual((yield* Inbox.listDead(10)).map((e) => e.eventId), ["r1"])
          assert.strictEqual((yield* Inbox.claim({ owner: "w", limit: 1, leaseMs: 1000 })).length, 0)
          const replayed = yield* Inbox.replay("r1")
          assert.strictEqual(replayed.state, "pending")
          assert.strictEqual((yield* Inbox.replay("r1").pipe(Effect.flip))._tag, "IllegalTransition")
          assert.strictEqual((yield* Inbox.claim({ owner: "w", limit: 1, leaseMs: 1000 })).length, 1)
        }).pipe(provideStore))
    })

    describe("subscribers", () => {
      it.effect("no read API returns the signing secret; a masked hint is shown", () =>
        Effect.gen(function* () {
          const created = yield* Subscribers.create({ url: "https://hooks.example.com/in", signingSecret: secret, eventFilter: ["order.*"] })
          assert.strictEqual(created.secretHint, "whsec_…1234")
          const reads = [created, yield* Subscribers.get(created.subscriberId), ...(yield* Subscribers.list())]
          for (const s of reads) assert.notInclude(JSON.stringify(s) + String(s), "abcdefghijklmnop")
          const signing = yield* Subscribers.signingSecret(created.subscriberId)
          assert.strictEqual(Redacted.value(signing), Redacted.value(secret))
          assert.notInclude(String(signing), "abcdefghijklmnop")
          const disabled = yield* Subscribers.disable(created.subscriberId, "410 Gone")
          assert.isFalse(disabled.enabled)
          assert.strictEqual(Option.getOrNull(disabled.disabledReason), "410 Gone")
          assert.strictEqual((yield* Subscribers.list({ includeDisabled: false })).length, 0)
          assert.isTrue((yield* Subscribers.enable(created.subscriberId)).enabled)
          const bad = yield* Subscribers.create({ url: "ftp://x", signingSecret: secret, eventFilter: ["*"] }).pipe(Effect.flip)
          assert.strictEqual(bad._tag, "InvalidInput")
          assert.strictEqual((yield* Subscribers.get("missing").pipe(Effect.flip))._tag, "NotFound")
        }).pipe(provideStore))
    })

    describe("outbound events and deliveries", () => {
      it.effect("per-order sequence; one delivery per matching enabled subscriber; retry, dead-letter, replay", () =>
        Effect.gen(function* () {
          const all = yield* Subscribers.create({ url: "https://a.example/h", signingSecret: secret, eventFilter: ["*"] })
          const orders = yield* Subscribers.create({ url: "https://b.example/h", signingSecret: secret, eventFilter: ["order.completed"] })
          const off = yield* Subscribers.create({ url: "https://c.example/h", signingSecret: secret, eventFilter: ["*"] })
          yield* Subscribers.disable(off.subscriberId, "paused")
          const e1 = yield* Outbox.append({ orderNumber: "4001", eventType: "order.registered", payload: { n: 1 } })
          const e2 = yield* Outbox.append({ orderNumber: "4001", eventType: "order.completed", payload: { n: 2 } })
          const other = yield* Outbox.append({ orderNumber: "4002", eventType: "order.completed", payload: { n: 3 } })
          assert.deepStrictEqual([e1.event.sequence, e2.event.sequence, other.event.sequence], [1, 2, 1])
          assert.deepStrictEqual(e1.deliveries.map((d) => d.subscriberId), [all.subscriberId])
          assert.strictEqual(e2.deliveries.length, 2)
          assert.deepStrictEqual((yield* Outbox.eventsForOrder("4001")).map((e) => e.payload), [{ n: 1 }, { n: 2 }])

          const forB = yield* Outbox.claimDue({ owner: "d1", limit: 10, leaseMs: 1000, subscriberId: orders.subscriberId })
          assert.strictEqual(forB.length, 2)
          assert.isTrue(forB.every((c) => c.delivery.subscriberId === orders.subscriberId && c.event.eventType === "order.completed"))
          const [b1, b2] = forB
          if (b1 === undefined || b2 === undefined) return assert.fail("claims")
          const delivered = yield* Outbox.markDelivered(b1.lease, { statusCode: 204 })
          assert.strictEqual(delivered.state, "delivered")
          const retried = yield* Outbox.scheduleRetry(b2.lease, { statusCode: 503, error: "unavailable", nextAttemptAt: 5000 })
          assert.strictEqual(Option.getOrNull(retried.lastStatusCode), 503)
          assert.strictEqual((yield* Outbox.markDelivered(b2.lease, { statusCode: 200 }).pipe(Effect.flip))._tag, "LeaseLost")

          const forA = yield* Outbox.claimDue({ owner: "d2", limit: 10, leaseMs: 1000 })
          assert.strictEqual(forA.length, 3)
          const first = forA[0]
          if (first === undefined) return assert.fail("claims")
          const dead = yield* Outbox.deadLetter(first.lease, { statusCode: 410, error: "gone" })
          assert.strictEqual(dead.state, "dead")
          const page = yield* Outbox.listDeadLettered({ limit: 10 })
          assert.deepStrictEqual(page.items.map((d) => d.deliveryId), [dead.deliveryId])
          assert.isTrue(Option.isNone(page.nextCursor))
          const replayed = yield* Outbox.replay(dead.deliveryId)
          assert.strictEqual(replayed.state, "pending")
          assert.strictEqual(replayed.attempts, 0)
          assert.strictEqual((yield* Outbox.replay(dead.deliveryId).pipe(Effect.flip))._tag, "IllegalTransition")
          const bad = yield* Outbox.append({ orderNumber: "4001", eventType: "x", payload: { blob: "y".repeat(300_000) } }).pipe(Effect.flip)
          assert.strictEqual(bad._tag, "InvalidInput")
          assert.strictEqual(yield* count("outbound_events"), 3)
        }).pipe(provideStore))
    })

    describe("unit of work", () => {
      it.effect("state change + outbound event commit together, or roll back together", () =>
        Effect.gen(function* () {
          const store = yield* Store
          yield* Subscribers.create({ url: "https://a.example/h", signingSecret: secret, eventFilter: ["*"] })
          yield* OrderLines.create(line("5001", "A"))
          const failed = yield* store
            .transaction(
              Effect.gen(function* () {
                yield* OrderLines.transition({ orderNumber: "5001", orderLineId: "A", expectedVersion: 1, to: "registering" })
                yield* Outbox.append({ orderNumber: "5001", eventType: "order.registering", payload: {} })
                return yield* Effect.fail("remote call failed" as const)
              })
            )
            .pipe(Effect.exit)
          assert.isTrue(Exit.isFailure(failed))
          assert.strictEqual((yield* OrderLines.get({ orderNumber: "5001", orderLineId: "A" })).state, "paid")
          assert.strictEqual(yield* count("outbound_events"), 0)
          assert.strictEqual(yield* count("deliveries"), 0)
          yield* store.transaction(
            Effect.gen(function* () {
              yield* OrderLines.transition({ orderNumber: "5001", orderLineId: "A", expectedVersion: 1, to: "registering" })
              yield* Outbox.append({ orderNumber: "5001", eventType: "order.registering", payload: {} })
            })
          )
          assert.strictEqual((yield* OrderLines.get({ orderNumber: "5001", orderLineId: "A" })).state, "registering")
          assert.strictEqual(yield* count("deliveries"), 1)
        }).pipe(provideStore))
    })

    describe("reconcile runs", () => {
      it.effect("records a run with drift records, finished once", () =>
        Effect.gen(function* () {
          const run = yield* ReconcileRuns.start
          assert.strictEqual(run.status, "running")
          yield* ReconcileRuns.recordDrift({
            runId: run.runId, orderNumber: "6001", orderLineId: "A",
            expected: "registered", observed: { remote: "completed" }, action: "transition", result: "completed"
          })
          const missingRun = yield* ReconcileRuns.recordDrift({
            runId: "nope", orderNumber: "6001", expected: 1, observed: 2, action: "none", result: "skipped"
          }).pipe(Effect.flip)
          assert.strictEqual(missingRun._tag, "NotFound")
          yield* TestClock.adjust(250)
          const finished = yield* ReconcileRuns.finish({ runId: run.runId, status: "completed", examined: 3, drifted: 1, repaired: 1, failed: 0 })
          assert.deepStrictEqual(Option.getOrNull(finished.endedAt), 250)
          assert.strictEqual(finished.examined, 3)
          const twice = yield* ReconcileRuns.finish({ runId: run.runId, status: "failed", examined: 0, drifted: 0, repaired: 0, failed: 0 }).pipe(Effect.flip)
          assert.strictEqual(twice._tag, "IllegalTransition")
          const drifts = yield* ReconcileRuns.driftsOf(run.runId)
          assert.deepStrictEqual(drifts.map((d) => [d.expected, d.observed]), [["registered", { remote: "completed" }]])
          assert.deepStrictEqual(Option.map(yield* ReconcileRuns.latest, (r) => r.runId), Option.some(run.runId))
        }).pipe(provideStore))
    })
  })
