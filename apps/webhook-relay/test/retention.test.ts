/**
 * Retention: what ended more than RELAY_RETENTION ago is deleted, pending work never. The first
 * suite runs the loop on TestClock against a real SQLite store (batches, a failed pass, counters);
 * the second runs the whole relay over HTTP with a 1-second interval, old rows made old by setting
 * their timestamps back.
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Inbox, Outbox, SecretBox, Store, Subscribers } from "@hlconnect/store"
import { Duration, Effect, Metric, Option, Redacted, TestClock } from "effect"
import { afterAll, beforeAll, expect, it as vitestIt } from "vitest"
import * as RelayConfig from "../src/RelayConfig.js"
import * as RelayMetrics from "../src/RelayMetrics.js"
import * as Retention from "../src/Retention.js"
import {
  admin,
  appendOutbound,
  capturingLogs,
  enginesUnderTest,
  eventually,
  getDelivery,
  inboxEvent,
  newSecret,
  nextOrderNumber,
  paidEvent,
  type RunningRelay,
  send,
  startReceiver,
  startRelay,
  tempSqliteStore,
  validToken
} from "./support.js"

const day = Duration.toMillis(Duration.days(1))

const tempStore = tempSqliteStore("relay-retention-")

const purgedCount = (kind: string) =>
  Effect.map(Metric.value(Metric.tagged(RelayMetrics.purged, "kind", kind)), (s) => s.count)

/** Waits in real time (the forked loop runs on its own) for `check`; TestClock does not move. */
const until = (what: string, check: () => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 1000; i++) {
      if (check()) return
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

describe("retention on TestClock", () => {
  it.scoped(
    "purges in batches what ended before now − retention; a failed pass is logged and the next one purges",
    () =>
      Effect.gen(function* () {
        const logs: Array<string> = []
        const config = RelayConfig.make({
          webhookSecrets: [newSecret()],
          retention: Duration.days(1),
          retentionInterval: Duration.hours(1)
        })
        const run = Effect.gen(function* () {
          const sql = yield* SqlClient
          const store = yield* Store.Store
          const inbox = yield* Inbox.Inbox
          const outbox = yield* Outbox.Outbox
          const subscribers = yield* Subscribers.Subscribers
          const retention = yield* Retention.make(config)
          const before = {
            inbox: yield* purgedCount("inbox"),
            delivery: yield* purgedCount("delivery"),
            event: yield* purgedCount("event")
          }

          // t = 0: more processed inbox events than one batch; one delivery delivered, one still retrying.
          const old = Retention.batchSize + 500
          for (let i = 0; i < old; i += 500) {
            yield* inbox.appendBatch(
              Array.from({ length: 500 }, (_, j) => ({
                eventId: `old-${i + j}`,
                source: "commerce",
                eventType: "order.paid",
                body: "{}"
              }))
            )
          }
          yield* store.transaction(
            Effect.gen(function* () {
              for (let claimed = 0; claimed < old; ) {
                const batch = yield* inbox.claim({ owner: "t", limit: 1000, leaseMs: 60_000 })
                yield* Effect.forEach(batch, (c) => inbox.complete(c.lease), { discard: true })
                claimed += batch.length
              }
            })
          )
          const sub = yield* subscribers.create({
            url: "https://retention.example/h",
            signingSecret: Redacted.make(newSecret()),
            eventFilter: ["*"]
          })
          const delivered = yield* outbox.append({
            orderNumber: "9401",
            eventType: "test.retention",
            payload: { n: 1 }
          })
          const retrying = yield* outbox.append({ orderNumber: "9401", eventType: "test.retention", payload: { n: 2 } })
          const claims = yield* outbox.claimDue({
            owner: "t",
            limit: 10,
            leaseMs: 60_000,
            subscriberId: sub.subscriberId
          })
          for (const c of claims) {
            if (c.event.eventId === delivered.event.eventId) yield* outbox.markDelivered(c.lease, { statusCode: 204 })
            else
              yield* outbox.scheduleRetry(c.lease, { statusCode: 503, error: "unavailable", nextAttemptAt: 10 * day })
          }
          // t = 1 day: a recent processed event and delivery.
          yield* TestClock.adjust(day)
          yield* inbox.appendBatch([{ eventId: "recent", source: "commerce", eventType: "order.paid", body: "{}" }])
          const [recentClaim] = yield* inbox.claim({ owner: "t", limit: 1, leaseMs: 60_000 })
          if (recentClaim === undefined) return assert.fail("claim")
          yield* inbox.complete(recentClaim.lease)
          const recent = yield* outbox.append({ orderNumber: "9402", eventType: "test.retention", payload: { n: 3 } })
          const [recentDelivery] = yield* outbox.claimDue({
            owner: "t",
            limit: 1,
            leaseMs: 60_000,
            subscriberId: sub.subscriberId
          })
          if (recentDelivery === undefined) return assert.fail("claim")
          yield* outbox.markDelivered(recentDelivery.lease, { statusCode: 200 })
          yield* TestClock.adjust(1)

          // The first pass fails (the table is away): logged, nothing counted, and the loop goes on.
          yield* sql`ALTER TABLE webhook_inbox RENAME TO webhook_inbox_away`
          yield* Effect.forkScoped(retention.run)
          yield* until("the failed pass's warning", () =>
            logs.some((l) => l.includes("retention purge failed; trying again next interval"))
          )
          assert.isTrue(logs.some((l) => l.includes("level=WARN") && l.includes("retention purge failed")))
          assert.strictEqual((yield* purgedCount("inbox")) - before.inbox, 0)
          yield* sql`ALTER TABLE webhook_inbox_away RENAME TO webhook_inbox`

          // One interval later the next pass purges everything past retention, batch after batch.
          yield* TestClock.adjust(Duration.hours(1))
          yield* until("the purge's info line", () =>
            logs.some((l) => l.includes("retention: purged what ended before the cutoff"))
          )
          // logfmt shows the counts as escaped JSON.
          const line = (logs.find((l) => l.includes("retention: purged")) ?? "").replaceAll("\\", "")
          assert.include(line, `"inbox":${old},"deliveries":1,"events":1`)
          assert.strictEqual((yield* purgedCount("inbox")) - before.inbox, old)
          assert.strictEqual((yield* purgedCount("delivery")) - before.delivery, 1)
          assert.strictEqual((yield* purgedCount("event")) - before.event, 1)
          assert.isTrue(Option.isNone(yield* inbox.get("old-0")))
          assert.isTrue(Option.isSome(yield* inbox.get("recent")))
          assert.strictEqual((yield* outbox.getDelivery(recentDelivery.delivery.deliveryId)).state, "delivered")
          const stillRetrying = retrying.deliveries[0]
          if (stillRetrying === undefined) return assert.fail("delivery")
          assert.strictEqual((yield* outbox.getDelivery(stillRetrying.deliveryId)).state, "pending")
          const events = (yield* outbox.eventsForOrder("9401")).map((e) => e.eventId)
          assert.deepStrictEqual(
            events,
            [retrying.event.eventId],
            "the delivered one's event went; the retrying one's stays"
          )
          assert.deepStrictEqual(
            (yield* outbox.eventsForOrder("9402")).map((e) => e.eventId),
            [recent.event.eventId]
          )

          // Nothing left: a pass purges nothing and says nothing.
          assert.deepStrictEqual(yield* retention.purgeOnce, { inbox: 0, deliveries: 0, events: 0 })
          assert.strictEqual(logs.filter((l) => l.includes("retention: purged")).length, 1)
        })
        yield* run.pipe(
          Effect.provide(tempStore),
          Effect.provide(SecretBox.layer(config.secretKeys)),
          Effect.provide(capturingLogs(logs))
        )
      })
  )
})

describe.each(enginesUnderTest("retention"))("retention over HTTP on $name (1-second interval)", (engine) => {
  let relay: RunningRelay
  const logs: Array<string> = []
  beforeAll(async () => {
    relay = await startRelay(
      // Failed deliveries wait an hour before their retry: the failing one stays pending throughout.
      { retentionInterval: Duration.seconds(1), retrySchedule: [Duration.hours(1)] },
      { logs, ...(engine.store === undefined ? {} : { store: engine.store() }) }
    )
  })
  afterAll(async () => {
    await relay?.close()
  })

  vitestIt(
    "old processed inbox events and old delivered deliveries (and their events) go; recent and pending ones stay; counted on /metrics",
    async () => {
      const ok = await startReceiver((_n, _r, res) => {
        res.statusCode = 204
        res.end()
      })
      const failing = await startReceiver((_n, _r, res) => {
        res.statusCode = 500
        res.end()
      })
      await admin(relay, "POST", "/admin/subscribers", {
        url: ok.url,
        events: ["test.retention.ok"],
        secret: newSecret()
      })
      await admin(relay, "POST", "/admin/subscribers", {
        url: failing.url,
        events: ["test.retention.failing"],
        secret: newSecret()
      })
      const oldOrder = String(nextOrderNumber())
      const recentOrder = String(nextOrderNumber())
      const pendingOrder = String(nextOrderNumber())
      const [oldOut] = (await appendOutbound(relay, oldOrder, "test.retention.ok", { n: 1 })).deliveries
      const [recentOut] = (await appendOutbound(relay, recentOrder, "test.retention.ok", { n: 2 })).deliveries
      const [pendingOut] = (await appendOutbound(relay, pendingOrder, "test.retention.failing", { n: 3 })).deliveries
      if (oldOut === undefined || recentOut === undefined || pendingOut === undefined) throw new Error("no deliveries")

      const [t1, t2] = [await validToken(relay), await validToken(relay)]
      const oldIn = await send(relay, paidEvent(nextOrderNumber(), [{ id: 1, token: t1.token }]))
      const recentIn = await send(relay, paidEvent(nextOrderNumber(), [{ id: 1, token: t2.token }]))
      // A refund for an order never paid is retried (the order.paid may be late): it stays pending.
      const pendingIn = await send(relay, { type: "order.refunded", data: { order_number: String(nextOrderNumber()) } })
      for (const id of [oldIn.id, recentIn.id]) {
        await eventually(
          async () => ((await inboxEvent(relay, id))?.state === "processed" ? true : undefined),
          10_000,
          "processed"
        )
      }
      await eventually(
        async () => ((await getDelivery(relay, oldOut.deliveryId)).state === "delivered" ? true : undefined),
        10_000,
        "delivered"
      )
      await eventually(
        async () => ((await getDelivery(relay, recentOut.deliveryId)).state === "delivered" ? true : undefined),
        10_000,
        "delivered"
      )
      await eventually(
        async () => ((await getDelivery(relay, pendingOut.deliveryId)).attempts >= 1 ? true : undefined),
        10_000,
        "a failed attempt"
      )
      expect((await inboxEvent(relay, pendingIn.id))?.state).toBe("pending")

      // Ended 91 days ago (RELAY_RETENTION is 90 days), as are the pending ones' last changes.
      const old = Date.now() - 91 * day
      await relay.run(
        Effect.gen(function* () {
          const sql = yield* SqlClient
          yield* sql`UPDATE webhook_inbox SET updated_at = ${old} WHERE ${sql.in("event_id", [oldIn.id, pendingIn.id])}`
          yield* sql`UPDATE deliveries SET updated_at = ${old} WHERE ${sql.in("delivery_id", [oldOut.deliveryId, pendingOut.deliveryId])}`
          yield* sql`UPDATE outbound_events SET created_at = ${old} WHERE ${sql.in("event_id", [oldOut.eventId, pendingOut.eventId])}`
        })
      )

      await eventually(
        async () => ((await inboxEvent(relay, oldIn.id)) === undefined ? true : undefined),
        10_000,
        "the old inbox event purged"
      )
      await eventually(
        async () =>
          (await relay.run(Effect.flip(Effect.flatMap(Outbox.Outbox, (o) => o.getDelivery(oldOut.deliveryId)))))
            ._tag === "NotFound"
            ? true
            : undefined,
        10_000,
        "the old delivery purged"
      )
      expect((await inboxEvent(relay, recentIn.id))?.state).toBe("processed")
      expect((await inboxEvent(relay, pendingIn.id))?.state).toBe("pending")
      expect((await getDelivery(relay, recentOut.deliveryId)).state).toBe("delivered")
      expect((await getDelivery(relay, pendingOut.deliveryId)).state).toBe("pending")
      const eventsOf = (order: string) =>
        relay.run(Effect.flatMap(Outbox.Outbox, (o) => o.eventsForOrder(order))).then((es) => es.map((e) => e.eventId))
      await eventually(
        async () => ((await eventsOf(oldOrder)).length === 0 ? true : undefined),
        10_000,
        "the old event purged"
      )
      expect(await eventsOf(pendingOrder)).toEqual([pendingOut.eventId])
      expect(await eventsOf(recentOrder)).toEqual([recentOut.eventId])

      const metrics = await (await fetch(`${relay.url}/metrics`)).text()
      expect(metrics).toMatch(/relay_purged_total\{kind="inbox"\} [1-9]/)
      expect(metrics).toMatch(/relay_purged_total\{kind="delivery"\} [1-9]/)
      expect(metrics).toMatch(/relay_purged_total\{kind="event"\} [1-9]/)
      expect(logs.some((l) => l.includes("retention: purged what ended before the cutoff"))).toBe(true)
      await ok.close()
      await failing.close()
    }
  )
})
