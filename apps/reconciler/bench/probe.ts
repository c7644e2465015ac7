/**
 * `pnpm probe`: where an order's time goes at latency L, measured with timestamps. Against a
 * sandbox in its own process adding L to every call (BENCH_LATENCY_MS 100, BENCH_CONCURRENCY 32,
 * BENCH_ORDERS 3000, BENCH_BATCH 100):
 *  1. a bare client loop at concurrency C, a cold round then a warm one (`purchaseInfo`, or with
 *     PROBE_BARE=register the `registerPurchase` a paid order needs): each call's wall time
 *     (distribution), this process' CPU per call, the sandbox's CPU share;
 *  2. one reconcile pass at C over N paid orders, under a recording tracer (PROBE_TRACE=0: none,
 *     for CPU figures without the tracer's cost): per span name (the order, each HL Connect call,
 *     each store step) count and duration; the slot time per order (C × pass time / orders) and
 *     what of it lies outside the order's span; this process' CPU per order; orders in flight
 *     (sampled every 5 ms); event-loop delay; how long the main thread waited for a CPU (another
 *     bench on the host) and the event-loop stalls over 100 ms with the CPU used in each.
 * PROBE_PASS_ONLY=1 skips the bare loop. Prints figures only; it judges nothing (the bench does).
 */
import { cpuMeter, pinThisProcess } from "@hlconnect/conformance/bench"
import { HlConnect } from "@hlconnect/core"
import { Store } from "@hlconnect/store"
import { Effect, Redacted, Tracer } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { Reconciler } from "../src/Reconciler.js"
import { BenchToken, benchLayer, seedPaid, startLatentSandbox } from "./support.js"

const L = Number(process.env.BENCH_LATENCY_MS ?? 100)
const C = Number(process.env.BENCH_CONCURRENCY ?? 32)
const N = Number(process.env.BENCH_ORDERS ?? 3000)
const scratch = mkdtempSync("/dev/shm/reconcile-probe-")

const quantiles = (values: Array<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)
  return `n=${sorted.length} mean ${mean.toFixed(1)} p50 ${at(0.5).toFixed(1)} p90 ${at(0.9).toFixed(1)} p99 ${at(0.99).toFixed(1)} max ${at(1).toFixed(1)} ms`
}

/** A tracer that records every span's duration by name, and counts the open order spans. */
const recordingTracer = (inner: Tracer.Tracer) => {
  const durations = new Map<string, Array<number>>()
  let openOrders = 0
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = inner.span(name, parent, context, links, startTime, kind, options)
      const end = span.end.bind(span)
      const started = performance.now()
      if (name === "Fulfilment.reconcileOrder") openOrders++
      span.end = (endTime, exit) => {
        if (name === "Fulfilment.reconcileOrder") openOrders--
        const list = durations.get(name) ?? []
        list.push(performance.now() - started)
        durations.set(name, list)
        end(endTime, exit)
      }
      return span
    },
    context: (f, fiber) => inner.context(f, fiber)
  })
  return { tracer, durations, open: () => openOrders }
}

const main = async () => {
  pinThisProcess(1)
  const sandbox = await startLatentSandbox(L)

  try {
    const client = HlConnect.Default({ baseUrl: sandbox.url, accessToken: Redacted.make(BenchToken), maxInFlight: 256 })
    const token = await Effect.runPromise(
      Effect.flatMap(HlConnect, (hl) =>
        hl.validatePurchase({ asset_id: 4000, customer_ip: "192.0.2.1", quantity: 1 })
      ).pipe(Effect.provide(client))
    )

    // 1. The bare loop, twice in one client: the first round opens the connections.
    let sequence = 0
    await Effect.runPromise(
      Effect.gen(function* () {
        const hl = yield* HlConnect
        for (const round of process.env.PROBE_PASS_ONLY === "1" ? [] : ["cold", "warm"]) {
          const probes = Math.round((C / (L / 1000)) * 6)
          const walls: Array<number> = []
          const server = cpuMeter(sandbox.child.pid)
          const cpu = process.cpuUsage()
          const started = performance.now()
          yield* Effect.forEach(
            Array.from({ length: probes }),
            () =>
              Effect.suspend(() => {
                const t0 = performance.now()
                const call: Effect.Effect<unknown, unknown> =
                  process.env.PROBE_BARE === "register"
                    ? hl.registerPurchase({
                        token: token.token,
                        order_number: 2_000_000 + sequence++,
                        order_line_id: 1,
                        unit_price: 3.99,
                        line_item_price: 3.99,
                        customer: "Bare Loop"
                      })
                    : hl.purchaseInfo({ order_id: 1 })
                return Effect.either(call).pipe(Effect.tap(() => Effect.sync(() => walls.push(performance.now() - t0))))
              }),
            { concurrency: C, discard: true }
          )
          const seconds = (performance.now() - started) / 1000
          const used = process.cpuUsage(cpu)
          console.log(
            `bare loop (${round}): ${(probes / seconds).toFixed(0)}/s = ${(probes / seconds / (C / (L / 1000))).toFixed(2)} of C/L; ` +
              `client CPU ${((used.user + used.system) / probes).toFixed(0)} µs/call (${(((used.user + used.system) / 1e6 / seconds) * 100).toFixed(0)}% of a CPU); ` +
              `sandbox ${((server.share() ?? Number.NaN) * 100).toFixed(0)}% of its CPU`
          )
          console.log(`  call wall time: ${quantiles(walls)}`)
        }
      }).pipe(Effect.provide(client))
    )

    // 2. One pass, traced.
    const db = join(scratch, "probe.db")
    await Effect.runPromise(seedPaid(N, token.token).pipe(Effect.provide(Store.layerSqlite({ filename: db }))))
    const inner = await Effect.runPromise(Effect.tracerWith(Effect.succeed))
    const recording = recordingTracer(inner)
    const inFlight: Array<number> = []
    const sampler = setInterval(() => inFlight.push(recording.open()), 5)
    /** ms this process' main thread waited on a run queue (runnable, not running): /proc schedstat. */
    const runDelay = () => Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[1] ?? 0) / 1e6
    const waitedBefore = runDelay()
    const stalls: Array<string> = []
    let lastTick = performance.now()
    let lastCpu = process.cpuUsage()
    const stallWatch = setInterval(() => {
      const now = performance.now()
      const cpuNow = process.cpuUsage()
      const wall = now - lastTick
      if (wall > 100) {
        const used = (cpuNow.user - lastCpu.user + cpuNow.system - lastCpu.system) / 1000
        stalls.push(`${wall.toFixed(0)} ms wall / ${used.toFixed(0)} ms CPU`)
      }
      lastTick = now
      lastCpu = cpuNow
    }, 10)
    const lag = monitorEventLoopDelay({ resolution: 1 })
    lag.enable()
    const server = cpuMeter(sandbox.child.pid)
    const cpu = process.cpuUsage()
    const summary = await Effect.runPromise(
      Effect.flatMap(Reconciler, (r) =>
        r.runPass({ dryRun: false, concurrency: C, owner: "probe", batch: Number(process.env.BENCH_BATCH ?? 100) })
      ).pipe(
        Effect.provide(benchLayer(db, sandbox.url)),
        process.env.PROBE_TRACE === "0" ? (self) => self : Effect.withTracer(recording.tracer)
      )
    )
    clearInterval(sampler)
    lag.disable()
    clearInterval(stallWatch)
    const waited = runDelay() - waitedBefore
    const used = process.cpuUsage(cpu)
    const seconds = summary.durationMs / 1000
    const perSecond = summary.examined / seconds
    console.log(
      `pass: ${summary.examined} orders in ${seconds.toFixed(1)} s = ${perSecond.toFixed(0)}/s = ${(perSecond / (C / (L / 1000))).toFixed(2)} of C/L; ` +
        `reconciler CPU ${((used.user + used.system) / summary.examined).toFixed(0)} µs/order (${(((used.user + used.system) / 1e6 / seconds) * 100).toFixed(0)}% of a CPU); ` +
        `sandbox ${((server.share() ?? Number.NaN) * 100).toFixed(0)}% of its CPU`
    )
    const mean = inFlight.reduce((a, b) => a + b, 0) / Math.max(1, inFlight.length)
    console.log(`  orders in flight (5 ms samples): mean ${mean.toFixed(1)} of ${C}`)
    const orderSpans = recording.durations.get("Fulfilment.reconcileOrder") ?? []
    const slot = (C * summary.durationMs) / summary.examined
    if (orderSpans.length > 0) {
      const inOrder = orderSpans.reduce((a, b) => a + b, 0) / orderSpans.length
      console.log(
        `  slot time per order ${slot.toFixed(1)} ms = ${inOrder.toFixed(1)} ms in the order's span + ${(slot - inOrder).toFixed(1)} ms outside it (claim, release, tally, waiting for a claim)`
      )
    }
    console.log(
      `  event-loop delay: mean ${(lag.mean / 1e6).toFixed(1)} p50 ${(lag.percentile(50) / 1e6).toFixed(1)} p99 ${(lag.percentile(99) / 1e6).toFixed(1)} max ${(lag.max / 1e6).toFixed(1)} ms`
    )
    console.log(
      `  main thread runnable but not running (waiting for a CPU): ${(waited / 1000).toFixed(1)} s of ${seconds.toFixed(1)} s`
    )
    console.log(`  stalls over 100 ms: ${stalls.join(", ") || "none"}`)
    const names = [...recording.durations.keys()].sort()
    for (const name of names) console.log(`  ${name}: ${quantiles(recording.durations.get(name) ?? [])}`)
  } finally {
    sandbox.stop()
  }
}

main()
  .catch((error: unknown) => console.log(`probe failed: ${String(error)}`))
  .finally(() => rmSync(scratch, { recursive: true, force: true }))
