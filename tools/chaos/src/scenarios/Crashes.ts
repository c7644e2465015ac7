/**
 * Scenario 2, crashes: while purchases flow, SIGKILL the relay or the reconciler at random
 * moments, `kills` times in all, restarting each time. The reconciler runs as cron does it,
 * `run --once` back to back, so a kill can land anywhere in a pass (or in its start-up).
 */
import { FaultSettings } from "@hlconnect/sandbox"
import { Clock, Duration, Effect, Fiber, Layer } from "effect"
import * as Apps from "../Apps.js"
import * as Flow from "../Flow.js"
import * as Ledger from "../Ledger.js"
import * as Ports from "../Ports.js"
import type * as Processes from "../Processes.js"
import * as Purchases from "../Purchases.js"
import * as SandboxAdmin from "../SandboxAdmin.js"
import * as Sender from "../Sender.js"
import * as Subscriber from "../Subscriber.js"
import * as Verify from "../Verify.js"
import { launch, Workspace, managed } from "../Workspace.js"

export interface Options {
  readonly orders: number
  readonly kills: number
  readonly settleTimeout: Duration.Duration
}

/** Slow enough that a kill often lands while a call to HL Connect is in flight. */
const latency = FaultSettings.make({ latency_ms: 5, latency_jitter_ms: 25 })

type Target = "relay" | "reconciler"

/** `reconcile run --once` again and again, as a cron would start it. */
const onceLoop = (reconciler: Processes.AppProcess) =>
  Effect.forever(
    Effect.gen(function* () {
      yield* reconciler.start
      yield* reconciler.awaitExit
      yield* Effect.sleep(Duration.millis(200))
    })
  )

/** Kills a reconciler run at a random moment of it (waiting for one to be running). */
const killReconciler = (reconciler: Processes.AppProcess) =>
  Effect.gen(function* () {
    const ws = yield* Workspace
    for (;;) {
      if (yield* reconciler.running) {
        yield* Effect.sleep(Duration.millis(ws.random.int(0, 600)))
        if (yield* reconciler.running) {
          yield* reconciler.kill
          return
        }
      }
      yield* Effect.sleep(Duration.millis(20))
    }
  })

export const run = (options: Options) =>
  Effect.gen(function* () {
    const ws = yield* Workspace
    const credentials = yield* Flow.credentials
    const dataDir = yield* ws.dir("crashes-data")
    const store: Apps.StoreTarget = { _tag: "sqlite", dataDir }
    const sandbox = yield* Flow.sandbox("crashes-sandbox", credentials)
    const upstream = { url: sandbox.url, token: sandbox.token }
    const subscriber = yield* Subscriber.make({ failRate: 0, random: ws.random })
    yield* ws.secrets.add("the subscriber's signing secret", subscriber.secret)
    const { orders, purchases } = yield* Flow.purchases(options.orders, sandbox, "crashes")
    yield* SandboxAdmin.setFaults(sandbox, latency)

    const relayPort = yield* Ports.free
    const relayUrl = Apps.urlOf(relayPort)
    const relay = yield* launch(
      Apps.relay({
        name: "crashes-relay",
        port: relayPort,
        store,
        upstream,
        webhookSecret: credentials.webhookSecret,
        adminToken: credentials.adminToken,
        secretsKey: credentials.secretsKey,
        subscriber,
        // Debug here: more log lines for the secret scan to search.
        logLevel: "Debug"
      })
    )
    const reconciler = yield* managed(
      Apps.reconciler({ name: "crashes-reconciler", store, upstream, logLevel: "Debug" })
    )
    const loop = yield* Effect.forkScoped(onceLoop(reconciler))

    // Orders keep coming for about as long as the killing goes on.
    const spreadOver = Duration.millis(options.kills * 1800)
    const sender = yield* Effect.fork(
      Sender.sendAll({
        purchases,
        relays: [relayUrl],
        sign: Purchases.signer(credentials.webhookSecret),
        concurrency: 8,
        spreadOver,
        giveUpAfter: Duration.minutes(2)
      })
    )
    const kills: Array<Target> = []
    for (let i = 0; i < options.kills; i++) {
      yield* Effect.sleep(Duration.millis(ws.random.int(300, 2500)))
      const neverRelay = !kills.includes("relay")
      const neverReconciler = !kills.includes("reconciler")
      const last = i === options.kills - 1
      const target: Target =
        last && neverRelay
          ? "relay"
          : last && neverReconciler
            ? "reconciler"
            : ws.random.chance(0.5)
              ? "relay"
              : "reconciler"
      if (target === "relay") {
        yield* relay.kill
        yield* relay.start
      } else {
        yield* killReconciler(reconciler)
      }
      kills.push(target)
      yield* Effect.logDebug(`crashes: kill ${i + 1}/${options.kills}: ${target}`)
    }
    const sent = yield* Fiber.join(sender)
    const settleStart = yield* Clock.currentTimeMillis
    yield* Effect.logInfo(
      `crashes: ${options.kills} kills done, ${sent.acked.size}/${purchases.length} acknowledged; settling`
    )

    const storeContext = yield* Layer.build(Ledger.layer({ _tag: "sqlite", filename: `${dataDir}/hlconnect.db` }))
    const sources: Verify.Sources = {
      orders,
      purchases,
      sent,
      admin: { url: relayUrl, token: credentials.adminToken },
      sandbox,
      subscriber
    }
    yield* Verify.settle(sources, options.settleTimeout).pipe(Effect.provide(storeContext))
    const settled = ((yield* Clock.currentTimeMillis) - settleStart) / 1000
    yield* Fiber.interrupt(loop)
    yield* reconciler.kill
    const verdict = yield* Verify.verify(sources).pipe(Effect.provide(storeContext))

    // A `--once` run ends by itself: 0 clean, 2 something failed (the failing asset); 1 or 3 are not expected.
    const runs = yield* reconciler.exits
    const badRuns = runs.filter((e) => !e.caused && e.code !== 0 && e.code !== 2)
    const died = yield* Flow.unexpectedExits([sandbox.process, relay])
    const relayKills = kills.filter((k) => k === "relay").length
    const lines = orders.reduce((n, o) => n + o.lines.length, 0)
    return {
      load: `${Flow.count(orders.length)} orders, ${Flow.count(lines)} lines`,
      faults: `${kills.length} SIGKILLs (${relayKills} relay, ${kills.length - relayKills} reconciler)`,
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      problems: [
        ...verdict.problems,
        ...died,
        ...badRuns.map((e) => `reconcile run --once exited ${e.code}; see ${reconciler.logFile}`)
      ],
      facts: [
        `relay started ${yield* relay.starts} times; ${runs.length} reconcile --once runs, ${kills.length - relayKills} of them killed`,
        `sender: ${sent.attempts} attempts for ${purchases.length} events (${sent.retried} retried while the relay was down)`,
        `settled ${settled.toFixed(0)} s after the last kill`,
        ...verdict.facts
      ]
    } satisfies Flow.Outcome
  })
