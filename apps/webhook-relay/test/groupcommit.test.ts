import { Effect, Exit, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import * as GroupCommit from "../src/GroupCommit.js"

describe("GroupCommit", () => {
  it("commits alone when idle, batches what arrives during a commit, caps the batch", async () => {
    const batches: Array<number> = []
    const program = Effect.scoped(
      Effect.gen(function* () {
        const gc = yield* GroupCommit.make<number, number, string>({
          maxBatch: 10,
          commit: (items) =>
            Effect.as(
              Effect.sync(() => batches.push(items.length)).pipe(Effect.zipRight(Effect.sleep("20 millis"))),
              items.map((i) => i * 2)
            )
        })
        expect(yield* gc.submit(1)).toBe(2)
        const results = yield* Effect.forEach(
          Array.from({ length: 25 }, (_, i) => i),
          gc.submit,
          { concurrency: "unbounded" }
        )
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

  it("pipelined: hands over a full chunk at once and the rest at the end of the turn, without waiting for earlier commits", async () => {
    const handedOver: Array<ReadonlyArray<number>> = []
    const unanswered: Array<() => void> = []
    const program = Effect.scoped(
      Effect.gen(function* () {
        const gc = yield* GroupCommit.pipelined<number, number, string>({
          chunk: 4,
          // Answers only when told: nothing is committed until the test says so.
          commit: (items, done) => {
            handedOver.push(items)
            unanswered.push(() =>
              done(items.includes(100) ? Exit.fail("disk full") : Exit.succeed(items.map((i) => i * 10)))
            )
          }
        })
        const results = Effect.forEach([1, 2, 3, 4, 5, 6, 100], (i) => Effect.exit(gc.submit(i)), {
          concurrency: "unbounded"
        })
        const fiber = yield* Effect.fork(results)
        yield* Effect.sleep("20 millis")
        // Two hand-offs in flight at once: the full chunk, then the rest at the end of the turn.
        expect(handedOver).toEqual([
          [1, 2, 3, 4],
          [5, 6, 100]
        ])
        for (const answer of unanswered) answer()
        const exits = yield* Fiber.join(fiber)
        expect(exits.slice(0, 4)).toEqual([10, 20, 30, 40].map((n) => Exit.succeed(n)))
        // A failed commit fails the requests it held.
        expect(exits.slice(4).every(Exit.isFailure)).toBe(true)
      })
    )
    await Effect.runPromise(program)
  })

  it("pipelined: a request not yet handed over when the scope closes is told it was interrupted", async () => {
    let exit: Exit.Exit<number, string> | undefined
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const gc = yield* GroupCommit.pipelined<number, number, string>({ chunk: 10, commit: () => {} })
          gc.submitCallback(1, (e) => {
            exit = e
          })
        })
      )
    )
    expect(exit !== undefined && Exit.isInterrupted(exit)).toBe(true)
  })
})
