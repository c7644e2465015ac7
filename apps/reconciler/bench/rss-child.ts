/**
 * Reconciles every due order of a seeded store once (dry run: no HL Connect calls, the full
 * claim → plan → record → release path) and prints the peak RSS it saw.
 */
import { Effect } from "effect"
import { Reconciler } from "../src/Reconciler.js"
import { benchLayer } from "./support.js"

const filename = process.env.BENCH_DB ?? ""
let peak = process.memoryUsage().rss
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss)
}, 20)

const program = Effect.gen(function* () {
  const reconciler = yield* Reconciler
  const started = Date.now()
  const summary = yield* reconciler.runPass({ dryRun: true, concurrency: 32, owner: "bench-rss", batch: 500 })
  return { examined: summary.examined, ms: Date.now() - started }
}).pipe(Effect.provide(benchLayer(filename, "http://127.0.0.1:9")))

Effect.runPromise(program).then(
  (result) => {
    clearInterval(sampler)
    peak = Math.max(peak, process.memoryUsage().rss)
    process.stdout.write(`${JSON.stringify({ ...result, peakRss: peak })}\n`)
  },
  (error: unknown) => {
    clearInterval(sampler)
    process.stderr.write(`${String(error)}\n`)
    process.exitCode = 1
  }
)
