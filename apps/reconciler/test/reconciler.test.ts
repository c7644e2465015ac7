/**
 * Every transition the reconciler drives, against a real sandbox over HTTP, on SQLite and on
 * PostgreSQL (a unique schema per test).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Fulfilment } from "@hlconnect/fulfilment"
import { OrderLines, Outbox, ReconcileRuns } from "@hlconnect/store"
import { Duration, Effect, Metric, Option } from "effect"
import * as Metrics from "../src/Metrics.js"
import { isClean, type PassOptions, Reconciler } from "../src/Reconciler.js"
import {
  engines,
  forceStates,
  sqliteEngine,
  freshOrderNumber,
  reconcilerEnv,
  seedPaid,
  snapshotLines,
  testPolicy
} from "./support/env.js"
import { type RunningSandbox, ScriptedFault, startSandbox } from "@hlconnect/sandbox"

let sandbox: RunningSandbox

beforeAll(async () => {
  // Lines stay PROCESSING until a test settles them: every step is deterministic.
  sandbox = await startSandbox({ fulfilmentDelay: Duration.hours(1), fulfilmentPolls: 0 })
})
afterAll(() => sandbox.close())

const pass = (options: Partial<PassOptions> = {}) =>
  Effect.flatMap(Reconciler, (r) => r.runPass({ dryRun: false, concurrency: 4, owner: "test", ...options }))

const lineOf = (orderNumber: string) => OrderLines.OrderLines.get({ orderNumber, orderLineId: "1" })

const eventsOf = (orderNumber: string) =>
  Effect.map(
    Effect.flatMap(Outbox.Outbox, (o) => o.eventsForOrder(orderNumber)),
    (events) => events.map((e) => e.eventType)
  )

const settle = (orderNumber: string, status: "COMPLETED" | "FAILED" | "CANCELLED" | "PROCESSING") =>
  Effect.promise(() => sandbox.run(sandbox.state.settleLine(Number(orderNumber), 1, status).pipe(Effect.orDie)))

const stats = () => Effect.promise(() => sandbox.run(sandbox.state.stats))

for (const engine of engines()) {
  describe(`reconciler on ${engine.name}`, () => {
    const env = (options: Parameters<typeof reconcilerEnv>[2] = {}) => reconcilerEnv(engine, sandbox, options)

    it.live(
      "paid → registered → processing → completed, with an order.completed event; a second run changes nothing",
      () =>
        Effect.gen(function* () {
          const line = yield* seedPaid(sandbox)
          const n = line.orderNumber
          const first = yield* pass({ order: n })
          assert.strictEqual((yield* lineOf(n)).state, "registered")
          assert.deepStrictEqual(first.transitions, { "paid→registered": 1 })
          assert.strictEqual((yield* stats()).registrations[`${n}:1`], 1)

          yield* pass({ order: n })
          assert.strictEqual((yield* lineOf(n)).state, "processing")
          yield* pass({ order: n })
          assert.strictEqual((yield* lineOf(n)).state, "processing", "still PROCESSING remotely: waits")

          yield* settle(n, "COMPLETED")
          const done = yield* pass({ order: n })
          assert.strictEqual((yield* lineOf(n)).state, "completed")
          assert.deepStrictEqual(done.transitions, { "processing→completed": 1 })
          assert.isTrue(isClean(done))
          assert.deepStrictEqual(yield* eventsOf(n), ["order.completed"])

          const before = yield* snapshotLines
          const again = yield* pass({ order: n })
          // --order works outside the lease schedule, so the order is looked at once more when due.
          const due = yield* pass()
          assert.strictEqual(again.changed, 0)
          assert.strictEqual(again.drift, 0)
          assert.strictEqual(due.changed, 0)
          assert.strictEqual((yield* pass()).examined, 0, "a completed order is no longer due")
          assert.strictEqual(yield* snapshotLines, before)
        }).pipe(Effect.provide(env()))
    )

    it.live("claims due orders: one pass moves each order one step, never twice", () =>
      Effect.gen(function* () {
        const seeded = yield* Effect.forEach([1, 2, 3, 4, 5], () => seedPaid(sandbox))
        const first = yield* pass({ batch: 2, concurrency: 2 })
        assert.strictEqual(first.examined, 5)
        assert.strictEqual(first.transitions["paid→registered"], 5)
        const second = yield* pass({ batch: 2 })
        assert.strictEqual(second.examined, 5)
        assert.strictEqual(second.transitions["registered→processing"], 5)
        for (const line of seeded) yield* settle(line.orderNumber, "COMPLETED")
        const third = yield* pass({ limit: 3 })
        assert.strictEqual(third.examined, 3, "--limit")
        yield* pass()
        for (const line of seeded) assert.strictEqual((yield* lineOf(line.orderNumber)).state, "completed")
        assert.strictEqual((yield* pass()).examined, 0)
      }).pipe(Effect.provide(env()))
    )

    it.live("a failing asset ends failed with an order.failed event", () =>
      Effect.gen(function* () {
        const line = yield* seedPaid(sandbox, { asset: 4999 })
        yield* pass({ order: line.orderNumber })
        yield* settle(line.orderNumber, "FAILED")
        const summary = yield* pass({ order: line.orderNumber })
        assert.strictEqual((yield* lineOf(line.orderNumber)).state, "failed")
        assert.deepStrictEqual(yield* eventsOf(line.orderNumber), ["order.failed"])
        assert.strictEqual(summary.failed, 1)
        assert.isFalse(isClean(summary))
      }).pipe(Effect.provide(env()))
    )

    it.live("an expired validation token → needs_attention with that reason, not an endless retry", () =>
      Effect.gen(function* () {
        const line = yield* seedPaid(sandbox, { expired: true })
        const before = (yield* stats()).requests.registerPurchase ?? 0
        const summary = yield* pass()
        const after = yield* lineOf(line.orderNumber)
        assert.strictEqual(after.state, "needs_attention")
        assert.match(
          Option.getOrElse(after.attentionReason, () => ""),
          /expired/
        )
        assert.deepStrictEqual(yield* eventsOf(line.orderNumber), ["order.needs_attention"])
        assert.strictEqual(summary.needsAttention, 1)
        assert.strictEqual((yield* stats()).requests.registerPurchase ?? 0, before, "never sent")
        assert.strictEqual((yield* pass()).examined, 0, "not retried")
      }).pipe(Effect.provide(env()))
    )

    it.live("cancel_requested → cancelled with an order.cancelled event", () =>
      Effect.gen(function* () {
        const line = yield* seedPaid(sandbox)
        yield* pass({ order: line.orderNumber })
        const registered = yield* lineOf(line.orderNumber)
        yield* Effect.flatMap(Fulfilment, (f) => f.requestCancel(registered))
        assert.strictEqual((yield* lineOf(line.orderNumber)).state, "cancel_requested")
        const summary = yield* pass()
        assert.strictEqual((yield* lineOf(line.orderNumber)).state, "cancelled")
        assert.deepStrictEqual(summary.transitions, { "cancel_requested→cancelled": 1 })
        assert.deepStrictEqual(yield* eventsOf(line.orderNumber), ["order.cancelled"])
      }).pipe(Effect.provide(env()))
    )

    it.live("a refused cancel (400) → needs_attention with the remote status", () =>
      Effect.gen(function* () {
        const line = yield* seedPaid(sandbox)
        yield* pass({ order: line.orderNumber })
        yield* settle(line.orderNumber, "FAILED")
        yield* Effect.flatMap(Fulfilment, (f) => Effect.flatMap(lineOf(line.orderNumber), f.requestCancel))
        const summary = yield* pass()
        const after = yield* lineOf(line.orderNumber)
        assert.strictEqual(after.state, "needs_attention")
        assert.match(
          Option.getOrElse(after.attentionReason, () => ""),
          /cannot cancel.*Failed/i
        )
        assert.strictEqual(summary.needsAttention, 1)
      }).pipe(Effect.provide(env()))
    )

    it.live("a pass that examined nothing is counted in a metric, not stored; the runs that did work stay listed", () =>
      Effect.gen(function* () {
        const runs = yield* ReconcileRuns.ReconcileRuns
        const line = yield* seedPaid(sandbox)
        const worked = yield* pass()
        assert.strictEqual(worked.examined, 1)
        assert.isTrue(worked.stored)
        yield* pass()
        yield* settle(line.orderNumber, "COMPLETED")
        yield* pass()
        const emptyBefore = (yield* Metric.value(Metrics.emptyRuns)).count
        const empty = yield* pass()
        const emptyAgain = yield* pass()
        assert.strictEqual(empty.examined, 0)
        assert.isFalse(empty.stored)
        assert.strictEqual((yield* Metric.value(Metrics.emptyRuns)).count - emptyBefore, 2)
        assert.strictEqual((yield* runs.get(emptyAgain.runId).pipe(Effect.flip))._tag, "NotFound")
        const listed = yield* runs.listRuns(10)
        assert.strictEqual(listed.length, 3)
        assert.isTrue(listed.every((run) => run.examined > 0))
        assert.strictEqual(listed[2]?.runId, worked.runId)
        assert.deepStrictEqual(
          Option.map(yield* runs.latestWithWork(), (run) => run.runId),
          Option.some(listed[0]?.runId)
        )
      }).pipe(Effect.provide(env()))
    )

    it.live(
      "audit: a line completed here, then cancelled at HL Connect, is found by the audit pass, not by the scheduled pass",
      () =>
        Effect.gen(function* () {
          const runs = yield* ReconcileRuns.ReconcileRuns
          const complete = (n: string) =>
            Effect.gen(function* () {
              yield* pass({ order: n })
              yield* pass({ order: n })
              yield* settle(n, "COMPLETED")
              yield* pass({ order: n })
              assert.strictEqual((yield* lineOf(n)).state, "completed")
            })
          const line = yield* seedPaid(sandbox)
          const n = line.orderNumber
          yield* complete(n)
          const other = (yield* seedPaid(sandbox)).orderNumber
          yield* complete(other)
          // --order works outside the lease schedule: the orders are due once more, then never again.
          yield* pass()
          // HL Connect's support cancels the line after it completed.
          yield* settle(n, "CANCELLED")

          const scheduled = yield* pass()
          assert.strictEqual(scheduled.examined, 0, "the scheduled pass does not re-read ended lines")
          assert.strictEqual((yield* lineOf(n)).state, "completed")

          const audit = yield* pass({ audit: { endedSince: 0, budget: 10 } })
          assert.strictEqual(audit.kind, "audit")
          assert.strictEqual(audit.examined, 2)
          assert.strictEqual(audit.drift, 1)
          assert.strictEqual(audit.needsAttention, 1)
          assert.deepStrictEqual(audit.transitions, { "completed→needs_attention": 1 })
          assert.strictEqual((yield* lineOf(n)).state, "needs_attention")
          assert.strictEqual((yield* lineOf(other)).state, "completed")
          assert.deepStrictEqual(yield* eventsOf(n), ["order.completed", "order.needs_attention"])
          const drifts = yield* runs.driftsOf(audit.runId)
          assert.deepStrictEqual(
            drifts.map((d) => [d.orderNumber, d.expected, d.observed]),
            [[n, "COMPLETED", "CANCELLED"]]
          )
          const stored = yield* runs.latestWithWork("audit")
          assert.deepStrictEqual(
            Option.map(stored, (r): ReadonlyArray<string | number> => [r.runId, r.kind, r.drifted]),
            Option.some([audit.runId, "audit", 1])
          )

          // The budget bounds a pass; the order audited least recently goes first.
          const bounded = yield* pass({ audit: { endedSince: 0, budget: 1 } })
          assert.strictEqual(bounded.examined, 1)
          assert.strictEqual(bounded.drift, 0)
          // Lines ended before the window are not read.
          const outside = yield* pass({ audit: { endedSince: Date.now() + 60_000, budget: 10 } })
          assert.strictEqual(outside.examined, 0)
          assert.isFalse(outside.stored)
        }).pipe(Effect.provide(env()))
    )

    it.live(
      "a line cancelled while paid, in an order whose other line completed, stays cancelled: HL Connect not listing it is no drift",
      () =>
        Effect.gen(function* () {
          const lines = yield* OrderLines.OrderLines
          const first = yield* seedPaid(sandbox)
          const n = first.orderNumber
          const second = yield* seedPaid(sandbox, { orderNumber: n, orderLineId: "2" })
          // Cancelled before it was registered: HL Connect is never told of it.
          yield* Effect.flatMap(Fulfilment, (f) => f.requestCancel(second))
          yield* pass({ order: n })
          yield* pass({ order: n })
          yield* settle(n, "COMPLETED")
          // HL Connect now answers the order in full, listing line 1 only.
          const last = yield* pass({ order: n })
          const audit = yield* pass({ audit: { endedSince: 0, budget: 10 } })
          assert.deepStrictEqual(
            [last.drift, last.needsAttention, audit.examined, audit.drift, audit.needsAttention],
            [0, 0, 1, 0, 0]
          )
          assert.deepStrictEqual(
            [(yield* lineOf(n)).state, (yield* lines.get(second)).state],
            ["completed", "cancelled"]
          )
          assert.notInclude(yield* eventsOf(n), "order.needs_attention")
        }).pipe(Effect.provide(env()))
    )

    describe("a line with ensemble parts (each part its own HL Connect order line)", () => {
      /** String Quartet No. 1 with its violin I and cello parts as lines 2 and 3. */
      const seedQuartet = () =>
        seedPaid(sandbox, {
          asset: 4003,
          parts: [
            { asset: "4004", orderLineId: "2" },
            { asset: "4007", orderLineId: "3" }
          ]
        })
      const settlePart = (orderNumber: string, hlLine: number, status: "COMPLETED" | "FAILED" | "CANCELLED") =>
        Effect.promise(() =>
          sandbox.run(sandbox.state.settleLine(Number(orderNumber), hlLine, status).pipe(Effect.orDie))
        )
      const remoteStatuses = (orderNumber: string) =>
        Effect.promise(() =>
          sandbox.run(
            sandbox.state.purchaseInfo(Number(orderNumber), sandbox.url).pipe(
              Effect.map((items) => (items === "PROCESSING" ? items : items.map((i) => [i.order_line_id, i.status]))),
              Effect.orDie
            )
          )
        )

      it.live("a part that failed while the rest completed is no completed line: it needs an operator", () =>
        Effect.gen(function* () {
          const line = yield* seedQuartet()
          const n = line.orderNumber
          yield* pass({ order: n })
          yield* pass({ order: n })
          yield* settlePart(n, 1, "COMPLETED")
          yield* settlePart(n, 2, "COMPLETED")
          yield* settlePart(n, 3, "FAILED")
          const summary = yield* pass({ order: n })
          const after = yield* lineOf(n)
          assert.strictEqual(after.state, "needs_attention")
          assert.match(
            Option.getOrElse(after.attentionReason, () => ""),
            /parts ended differently.*COMPLETED\+FAILED/
          )
          assert.strictEqual(summary.drift, 1)
          assert.notInclude(yield* eventsOf(n), "order.completed")
        }).pipe(Effect.provide(env()))
      )

      it.live("cancelling the line cancels its parts at HL Connect too", () =>
        Effect.gen(function* () {
          const line = yield* seedQuartet()
          const n = line.orderNumber
          yield* pass({ order: n })
          const registered = yield* lineOf(n)
          assert.strictEqual(registered.state, "registered")
          const fulfilment = yield* Fulfilment
          yield* fulfilment.requestCancel(registered)
          yield* fulfilment.cancelLine(yield* lineOf(n))
          assert.strictEqual((yield* lineOf(n)).state, "cancelled")
          assert.deepStrictEqual(yield* remoteStatuses(n), [
            [1, "CANCELLED"],
            [2, "CANCELLED"],
            [3, "CANCELLED"]
          ])
          // The audit finds HL Connect agreeing.
          const audit = yield* pass({ audit: { endedSince: 0, budget: 10 } })
          assert.deepStrictEqual([audit.examined, audit.drift], [1, 0])
        }).pipe(Effect.provide(env()))
      )

      it.live(
        "a cancellation cut short at one HL Connect line is sent again whole: the parts already cancelled count",
        () =>
          Effect.gen(function* () {
            const line = yield* seedQuartet()
            const n = line.orderNumber
            yield* pass({ order: n })
            const fulfilment = yield* Fulfilment
            yield* fulfilment.requestCancel(yield* lineOf(n))
            // The line's own DELETE fails both of the client's attempts; its parts' go through.
            yield* Effect.promise(() =>
              sandbox.run(
                sandbox.state.scriptFaults([
                  ScriptedFault.make({ kind: "error500", endpoint: "cancelOrderLine", times: 2 })
                ])
              )
            )
            const cancelsBefore = (yield* stats()).requests.cancelOrderLine ?? 0
            const first = yield* fulfilment.cancelLine(yield* lineOf(n))
            assert.strictEqual(first._tag, "RetryLater")
            // Two attempts for the line's own DELETE, then one for each part: none was skipped.
            assert.strictEqual(((yield* stats()).requests.cancelOrderLine ?? 0) - cancelsBefore, 4)
            assert.strictEqual((yield* lineOf(n)).state, "cancel_requested")
            // Sent again: the parts answer 400 (already cancelled), which HL Connect's view confirms.
            const second = yield* fulfilment.cancelLine(yield* lineOf(n))
            assert.strictEqual(second._tag, "Cancelled")
            assert.deepStrictEqual(yield* remoteStatuses(n), [
              [1, "CANCELLED"],
              [2, "CANCELLED"],
              [3, "CANCELLED"]
            ])
            assert.deepStrictEqual(yield* eventsOf(n), ["order.cancelled"])
          }).pipe(Effect.provide(env()))
      )
    })

    it.live("drift: local completed, remote 404 → recorded and flagged", () =>
      Effect.gen(function* () {
        // An order the sandbox never saw, completed locally.
        const line = yield* seedPaid(sandbox)
        yield* forceStates(line, ["registering", "registered", "completed"])
        const summary = yield* pass({ order: line.orderNumber })
        assert.strictEqual(summary.drift, 1)
        assert.strictEqual((yield* lineOf(line.orderNumber)).state, "needs_attention")
        const drifts = yield* Effect.flatMap(ReconcileRuns.ReconcileRuns, (r) => r.driftsOf(summary.runId))
        assert.strictEqual(drifts.length, 1)
        assert.strictEqual(drifts[0]?.expected, "COMPLETED")
        assert.strictEqual(drifts[0]?.observed, "NOT_FOUND")
        assert.match(drifts[0]?.result ?? "", /needs_attention/)
        const run = yield* Effect.flatMap(ReconcileRuns.ReconcileRuns, (r) => r.get(summary.runId))
        assert.strictEqual(run.drifted, 1)
        assert.strictEqual(run.status, "completed")
      }).pipe(Effect.provide(env()))
    )

    it.live("drift: local failed, remote COMPLETED → recorded and flagged", () =>
      Effect.gen(function* () {
        const line = yield* seedPaid(sandbox)
        yield* pass({ order: line.orderNumber })
        yield* settle(line.orderNumber, "COMPLETED")
        yield* forceStates(yield* lineOf(line.orderNumber), ["failed"])
        const summary = yield* pass({ order: line.orderNumber })
        const drifts = yield* Effect.flatMap(ReconcileRuns.ReconcileRuns, (r) => r.driftsOf(summary.runId))
        assert.deepStrictEqual(
          drifts.map((d) => [d.expected, d.observed]),
          [["FAILED", "COMPLETED"]]
        )
        assert.strictEqual((yield* lineOf(line.orderNumber)).state, "needs_attention")
      }).pipe(Effect.provide(env()))
    )

    it.live("a slow order holds its own slot only: the next batch is claimed and worked meanwhile", () =>
      Effect.gen(function* () {
        const seeded = yield* Effect.forEach([1, 2, 3, 4], () => seedPaid(sandbox))
        const firstBatch = seeded.slice(0, 2).map((line) => line.orderNumber)
        // The first registration to arrive is answered after 1 s (a 500, then retried): one order of
        // the first batch is slow; the other worker must go on to the next batch, not wait for it.
        yield* Effect.promise(() =>
          sandbox.run(
            sandbox.state.scriptFaults([
              ScriptedFault.make({ kind: "error500", endpoint: "registerPurchase", delay_ms: 1000 })
            ])
          )
        )
        const summary = yield* pass({ batch: 2, concurrency: 2, listOrders: true })
        assert.strictEqual(summary.transitions["paid→registered"], 4)
        // In the order they finished: the slow one last, after both of the second batch.
        const finished = summary.orders ?? []
        assert.strictEqual(finished.length, 4)
        assert.include(firstBatch, finished[3])
        assert.sameMembers(
          finished.slice(1, 3),
          seeded.slice(2).map((line) => line.orderNumber)
        )
      }).pipe(Effect.provide(env()))
    )

    it.live("dry run changes nothing and calls nothing that changes HL Connect", () =>
      Effect.gen(function* () {
        const seeded = yield* Effect.forEach([1, 2, 3], () => seedPaid(sandbox))
        const drifting = yield* seedPaid(sandbox)
        yield* forceStates(drifting, ["registering", "registered", "completed"])
        const before = yield* snapshotLines
        const registrations = (yield* stats()).requests.registerPurchase ?? 0
        // Small batches: orders handed back untouched must not be claimed again by the same pass.
        const summary = yield* pass({ dryRun: true, batch: 2 })
        const drifted = yield* pass({ dryRun: true, order: drifting.orderNumber })
        assert.strictEqual(yield* snapshotLines, before)
        assert.strictEqual((yield* stats()).requests.registerPurchase ?? 0, registrations)
        assert.strictEqual(summary.examined, 4)
        assert.strictEqual(summary.changed, 0)
        assert.strictEqual(summary.drift, 1)
        assert.deepStrictEqual(summary.transitions, { "would Register": 3, "would Transition": 1 })
        assert.strictEqual(drifted.drift, 1)
        const drifts = yield* Effect.flatMap(ReconcileRuns.ReconcileRuns, (r) => r.driftsOf(summary.runId))
        assert.match(drifts[0]?.result ?? "", /dry run/)
        // Still due: the dry run gave the orders back untouched.
        const real = yield* pass({ batch: 2 })
        assert.strictEqual(real.transitions["paid→registered"], seeded.length)
        assert.strictEqual(real.examined, 4)
      }).pipe(Effect.provide(env()))
    )

    it.live("401 stops the run at once with a clear message and few requests", () =>
      Effect.gen(function* () {
        yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => i),
          () => seedPaid(sandbox)
        )
        const before = (yield* stats()).requests.registerPurchase ?? 0
        const summary = yield* pass({ concurrency: 2, batch: 4 })
        const sent = ((yield* stats()).requests.registerPurchase ?? 0) - before
        assert.strictEqual(summary.status, "failed")
        assert.match(summary.error ?? "", /401.*HLCONNECT_TOKEN/)
        assert.isAtMost(sent, 2)
        assert.isAtMost(summary.examined, 2)
        const run = yield* Effect.flatMap(ReconcileRuns.ReconcileRuns, (r) => r.get(summary.runId))
        assert.strictEqual(run.status, "failed")
        assert.match(
          Option.getOrElse(run.error, () => ""),
          /401/
        )
        // The claimed orders were given back, not left leased.
        const lines = yield* OrderLines.OrderLines
        const claimable = yield* lines.claimDueOrders({ owner: "check", limit: 100, leaseMs: 1000 })
        assert.strictEqual(claimable.length, 12)
      }).pipe(Effect.provide(env({ token: "wrong-token" })))
    )

    it.live("--order on an unknown order fails clearly", () =>
      Effect.gen(function* () {
        const result = yield* Effect.flip(pass({ order: freshOrderNumber() }))
        assert.strictEqual(result._tag, "OrderNotStored")
      }).pipe(Effect.provide(env()))
    )
  })
}

describe("deadline", () => {
  it.live("registered and still PROCESSING past the deadline → needs_attention", () =>
    Effect.gen(function* () {
      const line = yield* seedPaid(sandbox)
      yield* pass({ order: line.orderNumber })
      const summary = yield* pass({ order: line.orderNumber })
      assert.strictEqual((yield* lineOf(line.orderNumber)).state, "needs_attention")
      assert.match(
        Option.getOrElse((yield* lineOf(line.orderNumber)).attentionReason, () => ""),
        /not fulfilled within/
      )
      assert.strictEqual(summary.needsAttention, 1)
    }).pipe(
      Effect.provide(
        reconcilerEnv(sqliteEngine, sandbox, { policy: { ...testPolicy, fulfilmentDeadline: Duration.zero } })
      )
    )
  )
})
