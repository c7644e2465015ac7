/**
 * HL Connect misbehaving (500s, lost answers, latency): every order still ends in the right state,
 * each registered exactly once.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { FaultSettings } from "@hlconnect/sandbox"
import { OrderLines } from "@hlconnect/store"
import { Duration, Effect } from "effect"
import { Reconciler } from "../src/Reconciler.js"
import { engines, reconcilerEnv, seedPaid } from "./support/env.js"
import { type RunningSandbox, startSandbox } from "@hlconnect/sandbox"

let sandbox: RunningSandbox

beforeAll(async () => {
  sandbox = await startSandbox({ fulfilmentDelay: Duration.zero })
})
afterAll(() => sandbox.close())

const faults = FaultSettings.make({
  error_rate: 0.25,
  reset_after_rate: 0.05,
  latency_ms: 5,
  latency_jitter_ms: 10,
  endpoints: ["registerPurchase", "purchaseInfo"]
})

for (const engine of engines()) {
  describe(`chaos on ${engine.name}`, () => {
    it.live(
      "injected 500s and latency: every order ends right",
      () =>
        Effect.gen(function* () {
          const seeded = yield* Effect.forEach(
            Array.from({ length: 24 }, (_, i) => i),
            (i) => seedPaid(sandbox, { asset: i % 8 === 0 ? 4999 : 4000 })
          )
          yield* Effect.promise(() => sandbox.run(sandbox.state.setFaults(faults)))
          const reconciler = yield* Reconciler
          let passes = 0
          for (; passes < 20; passes++) {
            const summary = yield* reconciler.runPass({ dryRun: false, concurrency: 6, owner: "chaos", batch: 5 })
            assert.strictEqual(summary.status, "completed")
            if (summary.examined === 0) break
          }
          yield* Effect.promise(() => sandbox.run(sandbox.state.setFaults(FaultSettings.make({}))))
          const lines = yield* OrderLines.OrderLines
          for (const [i, line] of seeded.entries()) {
            const now = yield* lines.get({ orderNumber: line.orderNumber, orderLineId: "1" })
            assert.strictEqual(now.state, i % 8 === 0 ? "failed" : "completed", `order ${line.orderNumber}`)
          }
          const stats = yield* Effect.promise(() => sandbox.run(sandbox.state.stats))
          for (const line of seeded) assert.strictEqual(stats.registrations[`${line.orderNumber}:1`], 1)
          assert.isAbove(
            Object.values(stats.faults).reduce((a, b) => a + b, 0),
            0,
            "faults were injected"
          )
          assert.isBelow(passes, 20)
        }).pipe(Effect.provide(reconcilerEnv(engine, sandbox, { client: { maxAttempts: 3 } }))),
      60_000
    )
  })
}
