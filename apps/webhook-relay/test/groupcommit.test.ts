import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import * as GroupCommit from "../src/GroupCommit.js"

describe("GroupCommit", () => {
  it("commits alone when idle, batches what arrives during a commit, caps the batch", async () => {
    const batches: Array<number> = []
    const program = Effect.scoped(
      Effect.gen(function* () {
        const gc = yield* GroupCommit.make<number, number, string>({
          maxBatch: 10,
          commit: (items) => Effect.as(Effect.sync(() => batches.push(items.length)).pipe(Effect.zipRight(Effect.sleep("20 millis"))), items.map((i) => i * 2))
        })
        expect(yield* gc.submit(1)).toBe(2)
        const results = yield* Effect.forEach(Array.from({ length: 25 }, (_, i) => i), gc.submit, { concurrency: "unbounded" })
        expect(results).toEqual(Array.from({ length: 25 }, (_, i) => i * 2))
      })
    )
    await Effect.runPromise(program)
    expect(batches[0]).toBe(1)
    expect(Math.max(...batches)).toBeLessThanOrEqual(10)
    expect(batches.length).toBeLessThan(10)
  })

  it("a failed commit fails every request of that batch, and only those", async () => {
    let calls = 0
    const program = Effect.scoped(
      Effect.gen(function* () {
        const gc = yield* GroupCommit.make<number, number, string>({
          maxBatch: 100,
          commit: (items) => (++calls === 1 ? Effect.fail("disk full") : Effect.succeed(items))
        })
        const first = yield* Effect.exit(gc.submit(1))
        const second = yield* Effect.exit(gc.submit(2))
        expect(Exit.isFailure(first)).toBe(true)
        expect(second).toEqual(Exit.succeed(2))
      })
    )
    await Effect.runPromise(program)
  })
})
