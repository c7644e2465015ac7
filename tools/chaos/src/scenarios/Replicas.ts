/**
 * Scenario 3, replicas: two relays and two scheduled reconcilers on one PostgreSQL (a fresh
 * schema), purchases sent to both relays in turn, HL Connect mildly faulty. Same guarantees as
 * with one of each, and the work must be shared: each replica's own `/metrics` says how much it did.
 */
import { FaultSettings } from "@hlconnect/sandbox"
import { Duration, Effect, Layer } from "effect"
import * as Apps from "../Apps.js"
import * as Flow from "../Flow.js"
import * as Ledger from "../Ledger.js"
import * as Metrics from "../Metrics.js"
import * as Ports from "../Ports.js"
import * as Postgres from "../Postgres.js"
import type * as Processes from "../Processes.js"
import * as Purchases from "../Purchases.js"
import * as RelayAdmin from "../RelayAdmin.js"
import * as SandboxAdmin from "../SandboxAdmin.js"
import * as Sender from "../Sender.js"
import * as Subscriber from "../Subscriber.js"
import * as Verify from "../Verify.js"
import { launch, Workspace } from "../Workspace.js"

/** The share of orders refunded after payment. */
const refundRate = 0.1

export interface Options {
  readonly orders: number
  readonly databaseUrl: string
  readonly settleTimeout: Duration.Duration
}

const faults = FaultSettings.make({ error_rate: 0.1, reset_after_rate: 0.02, latency_ms: 5, latency_jitter_ms: 15 })

interface Share {
  readonly name: string
  readonly figures: Readonly<Record<string, number>>
}

const relayShare = (p: Processes.AppProcess) =>
  Effect.map(Metrics.scrape(p.url ?? ""), (m) => ({
    name: p.name,
    figures: {
      "order.paid dispatched": Metrics.sum(m, "relay_dispatched_total", { event_type: "order.paid" }),
      "registerPurchase calls": Metrics.sum(m, "hlconnect_client_calls_total", { endpoint: "registerPurchase" }),
      "events delivered": Metrics.sum(m, "relay_delivered_total")
    }
  }))

const reconcilerShare = (p: Processes.AppProcess) =>
  Effect.map(Metrics.scrape(p.url ?? ""), (m) => ({
    name: p.name,
    figures: {
      "orders examined": Metrics.sum(m, "reconcile_orders_examined_total"),
      "purchaseInfo calls": Metrics.sum(m, "hlconnect_client_calls_total", { endpoint: "purchaseInfo" }),
      "registerPurchase calls": Metrics.sum(m, "hlconnect_client_calls_total", { endpoint: "registerPurchase" })
    }
  }))

const describeShare = (s: Share) =>
  `${s.name}: ${Object.entries(s.figures)
    .map(([k, v]) => `${Flow.count(v)} ${k}`)
    .join(", ")}`

export const run = (options: Options) =>
  Effect.gen(function* () {
    const ws = yield* Workspace
    const fresh = yield* Postgres.freshSchema(options.databaseUrl)
    const password = new URL(options.databaseUrl).password
    if (password !== "") yield* ws.secrets.add("the database password", decodeURIComponent(password))
    const store: Apps.StoreTarget = { _tag: "pg", url: fresh.appUrl }
    const credentials = yield* Flow.credentials
    const sandbox = yield* Flow.sandbox("replicas-sandbox", credentials)
    const upstream = { url: sandbox.url, token: sandbox.token }
    const subscriber = yield* Subscriber.make({ failRate: 0.05, random: ws.random })
    yield* ws.secrets.add("the subscriber's signing secret", subscriber.secret)
    const { orders, purchases, refunds } = yield* Flow.purchases(options.orders, sandbox, "replicas", refundRate)
    yield* Effect.logInfo(`replicas: schema ${fresh.schema}; starting 2 relays and 2 reconcilers at once`)

    const ports = yield* Effect.all([Ports.free, Ports.free, Ports.free, Ports.free])
    const relaySpec = (i: number) =>
      Apps.relay({
        name: `replicas-relay-${i + 1}`,
        port: ports[i] ?? 0,
        store,
        upstream,
        webhookSecret: credentials.webhookSecret,
        adminToken: credentials.adminToken,
        secretsKey: credentials.secretsKey,
        subscriber
      })
    const reconcilerSpec = (i: number) =>
      Apps.reconciler({
        name: `replicas-reconciler-${i + 1}`,
        store,
        upstream,
        schedule: { cron: "* * * * * *", port: ports[2 + i] ?? 0 }
      })
    // Replicas start together, as a deployment starts them (seeding the subscriber races).
    const relays = yield* Effect.all([launch(relaySpec(0)), launch(relaySpec(1))], { concurrency: 2 })
    const reconcilers = yield* Effect.all([launch(reconcilerSpec(0)), launch(reconcilerSpec(1))], { concurrency: 2 })
    yield* SandboxAdmin.setFaults(sandbox, faults)

    const relayUrls = relays.map((r) => r.url ?? "")
    const sending = yield* Sender.sendWithRefunds({
      purchases,
      refunds,
      relays: relayUrls,
      sign: Purchases.signer(credentials.webhookSecret),
      concurrency: 16,
      giveUpAfter: Duration.minutes(2)
    })
    const { sent } = sending
    yield* Effect.logInfo(`replicas: ${sent.acked.size}/${purchases.length} acknowledged; settling`)

    const storeContext = yield* Layer.build(
      Ledger.layer({ _tag: "pg", url: options.databaseUrl, schema: fresh.schema })
    )
    const admin = { url: relayUrls[0] ?? "", token: credentials.adminToken }
    const sources: Verify.Sources = { orders, purchases, ...sending, admin, sandbox, subscriber }
    yield* Verify.settle(sources, options.settleTimeout).pipe(Effect.provide(storeContext))
    const injected = (yield* SandboxAdmin.stats(sandbox)).faults
    // HL Connect's view of the refunds is read without faults.
    yield* SandboxAdmin.noFaults(sandbox)
    const verdict = yield* Verify.verify(sources).pipe(Effect.provide(storeContext))

    const shares: ReadonlyArray<Share> = [
      ...(yield* Effect.forEach(relays, relayShare)),
      ...(yield* Effect.forEach(reconcilers, reconcilerShare))
    ]
    const idle = [
      ...shares.slice(0, 2).filter((s) => (s.figures["order.paid dispatched"] ?? 0) === 0),
      ...shares.slice(2).filter((s) => (s.figures["orders examined"] ?? 0) === 0)
    ].map((s) => `${s.name} did none of the work`)
    const seeded = (yield* RelayAdmin.subscribers(admin)).filter((s) => s.url === subscriber.url)
    const seedProblem =
      seeded.length === 1
        ? []
        : [`${seeded.length} subscribers for one RELAY_SUBSCRIBERS entry (replicas seeding at once)`]
    const died = yield* Flow.unexpectedExits([sandbox.process, ...relays, ...reconcilers])
    const lines = orders.reduce((n, o) => n + o.lines.length, 0)
    return {
      load: `${Flow.count(orders.length)} orders, ${Flow.count(lines)} lines, ${Flow.count(refunds.length)} refunded; 2 relays + 2 reconcilers`,
      faults: `${Flow.count(SandboxAdmin.total(injected))} injected`,
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      problems: [...verdict.problems, ...idle, ...seedProblem, ...died],
      facts: [
        `PostgreSQL ${Postgres.redact(options.databaseUrl)}, schema ${fresh.schema} (dropped after)`,
        `faults injected: ${SandboxAdmin.describeCounts(injected)} (10 % 500s, 2 % resets after handling, latency 5–20 ms)`,
        `sender: ${sent.attempts} attempts for ${purchases.length} events, alternating relays`,
        ...shares.map((s) => `work: ${describeShare(s)}`),
        ...verdict.facts
      ]
    } satisfies Flow.Outcome
  })
