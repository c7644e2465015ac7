/**
 * Scenario 1, HL Connect misbehaving: the sandbox answers 20 % of API requests with a 500, 3 % with
 * a proxy's HTML 502 and 3 % with a gateway's HTML 504 after the request took effect, resets 5 % of
 * connections (half before handling, half after: the request took effect, the answer is lost), adds
 * latency with spikes; the subscriber refuses 10 % of deliveries. One relay and one
 * scheduled reconciler on SQLite take every purchase to its final state.
 */
import { FaultSettings } from "@hlconnect/sandbox"
import { Duration, Effect, Layer } from "effect"
import * as Apps from "../Apps.js"
import * as Flow from "../Flow.js"
import * as Graphql from "../Graphql.js"
import * as Http from "../Http.js"
import * as Ledger from "../Ledger.js"
import * as Ports from "../Ports.js"
import * as Purchases from "../Purchases.js"
import * as SandboxAdmin from "../SandboxAdmin.js"
import * as Sender from "../Sender.js"
import * as Subscriber from "../Subscriber.js"
import * as Verify from "../Verify.js"
import { launch, Workspace } from "../Workspace.js"

/** The share of orders refunded after payment. */
const refundRate = 0.1

export interface Options {
  readonly orders: number
  readonly settleTimeout: Duration.Duration
}

export const faults = FaultSettings.make({
  error_rate: 0.2,
  html_502_rate: 0.03,
  gateway_504_rate: 0.03,
  reset_rate: 0.025,
  reset_after_rate: 0.025,
  latency_ms: 2,
  latency_jitter_ms: 10,
  spike_rate: 0.03,
  spike_ms: 1500
})

const describeFaults =
  "20 % 500s, 3 % HTML 502s, 3 % HTML 504s after handling, 5 % resets (½ after handling), latency 2–12 ms + 3 % spikes of 1.5 s; subscriber 10 % 500s"

/** A few completed orders' fresh URLs through GraphQL (so the URLs pass through its process and logs), one fetched. */
const fetchUrls = (graphqlUrl: string, apiKey: string, orderNumbers: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const ws = yield* Workspace
    const answer = yield* Graphql.ordersWithUrls(graphqlUrl, apiKey, orderNumbers)
    const urls = answer.data.ordersByNumber
      .flatMap((o) => o?.lines ?? [])
      .flatMap((l) => [l.downloadUrl, l.viewUrl])
      .filter((u) => u !== null)
    yield* ws.secrets.addTokens(
      "a download/view URL",
      urls.map((u) => u.split("/").pop() ?? u)
    )
    const first = urls[0]
    const fetched = first === undefined ? undefined : yield* Http.request({ method: "GET", url: first })
    return { urls: urls.length, firstStatus: fetched?.status }
  })

export const run = (options: Options) =>
  Effect.gen(function* () {
    const ws = yield* Workspace
    const credentials = yield* Flow.credentials
    const dataDir = yield* ws.dir("faults-data")
    const store: Apps.StoreTarget = { _tag: "sqlite", dataDir }
    const sandbox = yield* Flow.sandbox("faults-sandbox", credentials)
    const upstream = { url: sandbox.url, token: sandbox.token }
    const subscriber = yield* Subscriber.make({ failRate: 0.1, random: ws.random })
    yield* ws.secrets.add("the subscriber's signing secret", subscriber.secret)
    const { orders, purchases, refunds } = yield* Flow.purchases(options.orders, sandbox, "faults", refundRate)
    yield* Effect.logInfo(`faults: ${orders.length} orders validated; starting relay, reconciler, GraphQL`)

    const [relayPort, reconcilerPort, graphqlPort] = yield* Effect.all([Ports.free, Ports.free, Ports.free])
    const [relay, reconciler, graphql] = yield* Effect.all(
      [
        launch(
          Apps.relay({
            name: "faults-relay",
            port: relayPort,
            store,
            upstream,
            webhookSecret: credentials.webhookSecret,
            adminToken: credentials.adminToken,
            secretsKey: credentials.secretsKey,
            subscriber
          })
        ),
        launch(
          Apps.reconciler({
            name: "faults-reconciler",
            store,
            upstream,
            schedule: { cron: "* * * * * *", port: reconcilerPort }
          })
        ),
        launch(
          Apps.graphql({ name: "faults-graphql", port: graphqlPort, store, upstream, apiKey: credentials.graphqlKey })
        )
      ],
      { concurrency: 3 }
    )
    yield* SandboxAdmin.setFaults(sandbox, faults)

    const sending = yield* Sender.sendWithRefunds({
      purchases,
      refunds,
      relays: [Apps.urlOf(relayPort)],
      sign: Purchases.signer(credentials.webhookSecret),
      concurrency: 16,
      giveUpAfter: Duration.minutes(2)
    })
    const { sent } = sending
    yield* Effect.logInfo(
      `faults: ${sent.acked.size}/${purchases.length} acknowledged; waiting for every line to finish`
    )

    const storeContext = yield* Layer.build(Ledger.layer({ _tag: "sqlite", filename: `${dataDir}/hlconnect.db` }))
    const admin = { url: Apps.urlOf(relayPort), token: credentials.adminToken }
    const sources: Verify.Sources = { orders, purchases, ...sending, admin, sandbox, subscriber }
    yield* Verify.settle(sources, options.settleTimeout).pipe(Effect.provide(storeContext))
    const injected = (yield* SandboxAdmin.stats(sandbox)).faults
    yield* SandboxAdmin.noFaults(sandbox)

    const completed = orders
      .filter((o) => o.lines.every((l) => l.expected === "completed"))
      .slice(0, 20)
      .map((o) => o.orderNumber)
    const urls = yield* fetchUrls(Apps.urlOf(graphqlPort), credentials.graphqlKey, completed)
    const verdict = yield* Verify.verify(sources).pipe(Effect.provide(storeContext))
    const died = yield* Flow.unexpectedExits([sandbox.process, relay, reconciler, graphql])
    const urlProblem =
      urls.urls === 0
        ? ["GraphQL returned no download/view URLs for completed orders"]
        : urls.firstStatus === 200
          ? []
          : [`a fresh download URL answered ${urls.firstStatus}`]
    const lines = orders.reduce((n, o) => n + o.lines.length, 0)
    return {
      load: `${Flow.count(orders.length)} orders, ${Flow.count(lines)} lines, ${Flow.count(refunds.length)} refunded`,
      faults: `${Flow.count(SandboxAdmin.total(injected))} injected`,
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      problems: [...verdict.problems, ...died, ...urlProblem],
      facts: [
        describeFaults,
        `faults injected: ${SandboxAdmin.describeCounts(injected)}`,
        `sender: ${sent.attempts} attempts for ${purchases.length} events (${sent.retried} retried)`,
        ...verdict.facts,
        `GraphQL: ${urls.urls} fresh URLs for ${completed.length} orders, one fetched: ${urls.firstStatus ?? "none"}`
      ]
    } satisfies Flow.Outcome
  })
