/**
 * Profiling harness: the core client alone, `purchaseInfo` at 64 in flight against the floor
 * server for a few seconds, profiled in-process (V8's sampling profiler through `node:inspector`)
 * over the steady window only — warm-up and module loading excluded — so the profile shows only
 * the client's per-call work (the bench mixes every contender into one process):
 *
 *   PROFILE_OUT=/tmp/core.cpuprofile pnpm tsx bench/profile-core.ts   (PROFILE_SECONDS, default 8)
 *
 * PROFILE_CLIENT=undici runs `undici.request` + `body.json()` instead, the floor to compare with.
 */
import { HlConnect } from "@hlconnect/core"
import { pinThisProcess, serverScripts, startServerProcess } from "../src/bench/index.js"
import { Effect, ManagedRuntime, Redacted } from "effect"
import { request } from "undici"
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"

const SECONDS = Number(process.env.PROFILE_SECONDS ?? 8)
const TOKEN = "bench-token"

const main = async () => {
  pinThisProcess(1)
  const floor = await startServerProcess({ script: serverScripts.floor, env: { SANDBOX_TOKENS: TOKEN }, cpu: 0 })
  const runtime = ManagedRuntime.make(HlConnect.Default({ baseUrl: floor.url, accessToken: Redacted.make(TOKEN) }))
  const client = await runtime.runPromise(HlConnect)
  const headers = { accept: "application/json", authorization: `Bearer ${TOKEN}` }
  const call =
    process.env.PROFILE_CLIENT === "undici"
      ? async (orderId: number) => {
          const response = await request(`${floor.url}/purchase/info?order_id=${orderId}`, { headers })
          await response.body.json()
        }
      : (orderId: number) => runtime.runPromise(Effect.asVoid(client.purchaseInfo({ order_id: orderId })))
  let completed = 0
  let stop = false
  const worker = async (offset: number) => {
    let i = offset
    while (!stop) {
      await call(910_001 + (i++ % 8))
      completed++
    }
  }
  const workers = Array.from({ length: 64 }, (_, i) => worker(i))
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const session = new Session()
  session.connect()
  const out = process.env.PROFILE_OUT
  if (out !== undefined) {
    await session.post("Profiler.enable")
    await session.post("Profiler.start")
  }
  const startCount = completed
  const started = performance.now()
  const cpu = process.cpuUsage()
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000))
  const used = process.cpuUsage(cpu)
  const seconds = (performance.now() - started) / 1000
  completed -= startCount
  if (out !== undefined) {
    const { profile } = await session.post("Profiler.stop")
    writeFileSync(out, JSON.stringify(profile))
  }
  stop = true
  await Promise.all(workers)
  process.stdout.write(
    `${completed} calls in ${seconds.toFixed(1)} s: ${(completed / seconds).toFixed(0)} req/s, ${((used.user + used.system) / completed).toFixed(0)} µs CPU/call\n`
  )
  await runtime.dispose()
  floor.stop()
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
