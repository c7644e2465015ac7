/**
 * Warn, then disable, a subscriber failing continuously; its events are held (dead-lettered with
 * the reason) and go out on replay once it is enabled again. The first suite runs on TestClock
 * (days pass instantly) against a real SQLite store and a real local HTTP subscriber; the second
 * runs the whole relay over HTTP with a 3-second period.
 */
import { assert, describe, it } from "@effect/vitest"
import { Outbox, SecretBox, Subscribers } from "@hlconnect/store"
import { Duration, Effect, Metric, Option, Redacted, TestClock } from "effect"
import { afterAll, beforeAll, expect, it as vitestIt } from "vitest"
import * as Delivery from "../src/Delivery.js"
import * as Doorbell from "../src/Doorbell.js"
import * as RelayConfig from "../src/RelayConfig.js"
import * as SubscriberHealth from "../src/SubscriberHealth.js"
import * as SubscriberUrl from "../src/SubscriberUrl.js"
import {
  admin,
  appendOutbound,
  asRecord,
  capturingLogs,
  eventually,
  getDelivery,
  newSecret,
  type RunningRelay,
  startReceiver,
  startRelay,
  tempSqliteStore
} from "./support.js"

const day = Duration.toMillis(Duration.days(1))

const tempStore = tempSqliteStore("relay-health-")

const receiverResource = Effect.acquireRelease(
  Effect.promise(() => {
    const state = { status: 500 }
    return startReceiver((_n, _r, res) => {
      res.statusCode = state.status
      res.end()
    }).then((r) => ({ ...r, state }))
  }),
  (r) => Effect.promise(() => r.close())
)

const counter = (metric: Metric.Metric.Counter<number>, key: string, value: string) =>
  Effect.map(Metric.value(Metric.tagged(metric, key, value)), (s) => s.count)

describe("subscriber health on TestClock", () => {
  it.scoped(
    "warns at 50 % and 90 %, disables at the first failure after the period, holds its events, replays them after enabling",
    () =>
      Effect.gen(function* () {
        const logs: Array<string> = []
        const receiver = yield* receiverResource
        const config = RelayConfig.make({
          webhookSecrets: [newSecret()],
          allowPrivateSubscribers: true,
          retrySchedule: Array.from({ length: 20 }, () => Duration.hours(6)),
          retryJitter: 0,
          subscriberDisableAfter: Duration.days(5)
        })
        const run = Effect.gen(function* () {
          const subscribers = yield* Subscribers.Subscribers
          const outbox = yield* Outbox.Outbox
          const health = yield* SubscriberHealth.make(config)
          const guard = SubscriberUrl.make({
            allowPrivate: true,
            resolver: SubscriberUrl.HostResolver.make({ lookup: () => Effect.succeed([]) })
          })
          const delivery = yield* Delivery.make(config, { bell: yield* Doorbell.make, guard, health })
          const sub = yield* subscribers.create({
            url: receiver.url,
            signingSecret: Redacted.make(newSecret()),
            eventFilter: ["test.*"]
          })
          const id = sub.subscriberId
          const current = subscribers.get(id)
          const warnings50 = yield* counter(SubscriberHealth.failureWarnings, "level", "50")
          const warnings90 = yield* counter(SubscriberHealth.failureWarnings, "level", "90")
          const disabledCount = yield* counter(SubscriberHealth.subscribersDisabled, "reason", "failing")

          // t = 1 day: the first failure starts the streak.
          yield* TestClock.adjust(day)
          yield* outbox.append({ orderNumber: "9001", eventType: "test.health", payload: { n: 1 } })
          assert.strictEqual(yield* delivery.drainOnce, 1)
          const failing = yield* current
          assert.deepStrictEqual(Option.getOrNull(failing.failingSince), day)
          const status = SubscriberHealth.status(config, failing)
          assert.deepStrictEqual(Option.getOrNull(status.disablesAt), 6 * day)
          yield* health.sweep
          assert.strictEqual((yield* current).failureWarning, 0, "no warning before 50 %")

          // 50 %: one warning (logged, counted, recorded), given once however often the sweep runs.
          yield* TestClock.adjust(2.5 * day)
          yield* health.sweep
          yield* health.sweep
          assert.strictEqual((yield* current).failureWarning, 50)
          assert.strictEqual((yield* counter(SubscriberHealth.failureWarnings, "level", "50")) - warnings50, 1)
          assert.isTrue(
            logs.some(
              (l) => l.includes("subscriber failing for 50 % of the time before it is disabled") && l.includes(id)
            )
          )

          // Failing retries within the period do not disable it; 90 % warns again.
          assert.strictEqual(yield* delivery.drainOnce, 1)
          yield* TestClock.adjust(2 * day)
          yield* health.sweep
          assert.strictEqual((yield* current).failureWarning, 90)
          assert.strictEqual((yield* counter(SubscriberHealth.failureWarnings, "level", "90")) - warnings90, 1)

          // Past the period with no attempt since: still enabled (nothing has failed after the deadline).
          yield* TestClock.adjust(0.5 * day + 1)
          yield* health.sweep
          assert.isTrue((yield* current).enabled)

          // The first failure after it disables, with the reason.
          yield* outbox.append({ orderNumber: "9001", eventType: "test.health", payload: { n: 2 } })
          yield* delivery.drainOnce
          const disabled = yield* current
          assert.isFalse(disabled.enabled)
          assert.match(
            Option.getOrElse(disabled.disabledReason, () => ""),
            /^failing since 1970-01-02T00:00:00.000Z with no successful delivery for 5d .*RELAY_SUBSCRIBER_DISABLE_AFTER/
          )
          assert.strictEqual(
            (yield* counter(SubscriberHealth.subscribersDisabled, "reason", "failing")) - disabledCount,
            1
          )
          assert.isTrue(logs.some((l) => l.includes("subscriber disabled: failing continuously")))

          // Events for the disabled subscriber are held, never dropped.
          const held = yield* outbox.append({ orderNumber: "9001", eventType: "test.health", payload: { n: 3 } })
          assert.deepStrictEqual(
            held.deliveries.map((d) => d.state),
            ["dead"]
          )
          // The two failed ones come due again and are parked with the reason instead of being sent.
          yield* TestClock.adjust(Duration.hours(6))
          assert.strictEqual(yield* delivery.drainOnce, 2)
          assert.strictEqual(receiver.received.length, 4, "nothing sent while disabled")
          const dead = yield* outbox.listDeliveries({ state: "dead", subscriberId: id, limit: 10 })
          assert.strictEqual(dead.items.length, 3, "the two failed ones and the held one")
          assert.isTrue(
            dead.items.every((d) =>
              Option.getOrElse(d.lastError, () => "").startsWith("subscriber disabled: failing since")
            )
          )

          // Fixed, enabled (a fresh streak), replayed: every event arrives.
          receiver.state.status = 204
          const before = receiver.received.length
          const enabled = yield* subscribers.enable(id)
          assert.isTrue(Option.isNone(enabled.failingSince))
          yield* Effect.forEach(dead.items, (d) => outbox.replay(d.deliveryId), { discard: true })
          assert.strictEqual(yield* delivery.drainOnce, 3)
          const bodies = receiver.received.slice(before).map((r) => asRecord(asRecord(JSON.parse(r.body)).data).n)
          assert.sameMembers(bodies, [1, 2, 3])
          assert.strictEqual(
            (yield* outbox.listDeliveries({ state: "delivered", subscriberId: id, limit: 10 })).items.length,
            3
          )
        })
        yield* run.pipe(
          Effect.provide(tempStore),
          Effect.provide(SecretBox.layer(config.secretKeys)),
          Effect.provide(capturingLogs(logs))
        )
      })
  )

  it.scoped("a success ends the streak: the period starts again at the next failure", () =>
    Effect.gen(function* () {
      const receiver = yield* receiverResource
      const config = RelayConfig.make({
        webhookSecrets: [newSecret()],
        allowPrivateSubscribers: true,
        retrySchedule: [Duration.hours(1)],
        retryJitter: 0,
        subscriberDisableAfter: Duration.days(5)
      })
      yield* Effect.gen(function* () {
        const subscribers = yield* Subscribers.Subscribers
        const outbox = yield* Outbox.Outbox
        const health = yield* SubscriberHealth.make(config)
        const guard = SubscriberUrl.make({
          allowPrivate: true,
          resolver: SubscriberUrl.HostResolver.make({ lookup: () => Effect.succeed([]) })
        })
        const delivery = yield* Delivery.make(config, { bell: yield* Doorbell.make, guard, health })
        const sub = yield* subscribers.create({
          url: receiver.url,
          signingSecret: Redacted.make(newSecret()),
          eventFilter: ["*"]
        })
        yield* TestClock.adjust(day)
        yield* outbox.append({ orderNumber: "9101", eventType: "test.health", payload: {} })
        yield* delivery.drainOnce
        assert.isTrue(Option.isSome((yield* subscribers.get(sub.subscriberId)).failingSince))
        yield* TestClock.adjust((day * 49) / 10)
        receiver.state.status = 200
        yield* outbox.append({ orderNumber: "9101", eventType: "test.health", payload: {} })
        yield* delivery.drainOnce
        const healthy = yield* subscribers.get(sub.subscriberId)
        assert.isTrue(Option.isNone(healthy.failingSince))
        receiver.state.status = 500
        yield* TestClock.adjust(day / 5)
        yield* outbox.append({ orderNumber: "9101", eventType: "test.health", payload: {} })
        yield* delivery.drainOnce
        const again = yield* subscribers.get(sub.subscriberId)
        assert.isTrue(again.enabled, "a new streak, not 5.1 days of failure")
        assert.deepStrictEqual(
          Option.getOrNull(SubscriberHealth.status(config, again).disablesAt),
          day + (day * 49) / 10 + day / 5 + 5 * day
        )
      }).pipe(Effect.provide(tempStore), Effect.provide(SecretBox.layer(config.secretKeys)))
    })
  )
})

describe("subscriber health over HTTP (3-second period)", () => {
  let relay: RunningRelay
  beforeAll(async () => {
    relay = await startRelay({
      subscriberDisableAfter: Duration.seconds(3),
      subscriberCheckInterval: Duration.millis(50)
    })
  })
  afterAll(async () => {
    await relay?.close()
  })

  vitestIt(
    "the admin API shows failing since / disables at / the warning; then disabled with a reason; replay after enabling delivers the held events",
    async () => {
      let fail = true
      const receiver = await startReceiver((_n, _r, res) => {
        res.statusCode = fail ? 500 : 204
        res.end()
      })
      const created = await admin(relay, "POST", "/admin/subscribers", {
        url: receiver.url,
        events: ["test.autodisable"],
        secret: newSecret()
      })
      const id = String(created.json.id)
      expect(created.json.failing_since).toBeNull()
      expect(created.json.disables_at).toBeNull()
      const { deliveries } = await appendOutbound(relay, "9201", "test.autodisable", { n: 0 })
      await eventually(
        async () => ((await getDelivery(relay, deliveries[0]?.deliveryId ?? "")).state === "dead" ? true : undefined),
        10_000,
        "dead"
      )
      const failing = await admin(relay, "GET", `/admin/subscribers/${id}`)
      const since = Date.parse(String(failing.json.failing_since))
      expect(Date.parse(String(failing.json.disables_at)) - since).toBe(3000)
      expect(failing.json.enabled).toBe(true)

      const warned = await eventually(
        async () => {
          const s = await admin(relay, "GET", `/admin/subscribers/${id}`)
          return s.json.failure_warning === null ? undefined : s
        },
        10_000,
        "a warning"
      )
      expect(String(warned.json.failure_warning)).toMatch(/^failing for (50|90) % of 3s$/)

      // Keep failing until a failure lands after the period: disabled.
      let n = 1
      const disabled = await eventually(
        async () => {
          await appendOutbound(relay, "9201", "test.autodisable", { n: n++ })
          const s = await admin(relay, "GET", `/admin/subscribers/${id}`)
          return s.json.enabled === false ? s : undefined
        },
        15_000,
        "auto-disable"
      )
      expect(String(disabled.json.disabled_reason)).toContain("RELAY_SUBSCRIBER_DISABLE_AFTER")
      expect(disabled.json.disables_at).toBeNull()

      // Held while disabled.
      const { deliveries: held } = await appendOutbound(relay, "9201", "test.autodisable", { n: -1 })
      expect(held.map((d) => d.state)).toEqual(["dead"])

      const metrics = await (await fetch(`${relay.url}/metrics`)).text()
      expect(metrics).toMatch(/relay_subscribers_disabled_total\{reason="failing"\} [1-9]/)
      expect(metrics).toMatch(/relay_subscriber_failure_warnings_total\{level="(50|90)"\} [1-9]/)

      // Every delivery still retrying is parked as soon as it comes due.
      await eventually(
        async () => {
          const pending = await admin(relay, "GET", `/admin/deliveries?state=pending&subscriber_id=${id}`)
          return Array.isArray(pending.json.items) && pending.json.items.length === 0 ? true : undefined
        },
        10_000,
        "nothing pending"
      )
      fail = false
      expect((await admin(relay, "POST", `/admin/subscribers/${id}/enable`)).json.failing_since).toBeNull()
      const replay = await admin(relay, "POST", "/admin/deliveries/dead/replay", { subscriber_id: id })
      expect(Number(replay.json.replayed)).toBe(n + 1)
      await eventually(
        async () => {
          const page = await admin(relay, "GET", `/admin/deliveries?state=delivered&subscriber_id=${id}&limit=500`)
          return Array.isArray(page.json.items) && page.json.items.length === n + 1 ? true : undefined
        },
        15_000,
        "every held event delivered"
      )
      const bodies = receiver.received.filter((r) => r.body.includes('"n":-1'))
      expect(bodies.length).toBeGreaterThanOrEqual(1)
      await receiver.close()
    }
  )
})
