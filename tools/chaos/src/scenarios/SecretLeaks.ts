/**
 * Scenario 5, secrets: first a few starts with a broken configuration that holds a secret (each
 * must stop with a message naming the variable, never echoing the value), then every captured
 * log of the campaign is searched for every credential it handed out (bearer tokens, webhook
 * secrets and their base64 keys, the admin token, API keys, validation tokens, download/view
 * URLs) and for credential-shaped text in general.
 */
import { Duration, Effect, Schedule } from "effect"
import { readFileSync } from "node:fs"
import * as Apps from "../Apps.js"
import * as Flow from "../Flow.js"
import * as Ports from "../Ports.js"
import type * as Processes from "../Processes.js"
import * as Purchases from "../Purchases.js"
import * as SandboxAdmin from "../SandboxAdmin.js"
import * as Secrets from "../Secrets.js"
import * as Sender from "../Sender.js"
import { SetupFailed } from "../Errors.js"
import { launch, managed, Workspace } from "../Workspace.js"

interface Probe {
  readonly name: string
  readonly spec: Processes.LaunchSpec
  /** Exit code the app must stop with, and the variable its message must name. */
  readonly code: number
  readonly names: string
}

const exitOf = ({ readyUrl: _notProbed, ...spec }: Processes.LaunchSpec) =>
  Effect.gen(function* () {
    const p = yield* managed(spec)
    yield* p.start
    yield* p.awaitExit.pipe(
      Effect.timeout(Duration.seconds(60)),
      Effect.catchTag("TimeoutException", () => p.kill)
    )
    const exits = yield* p.exits
    return { code: exits[0]?.code ?? null, log: readFileSync(p.logFile, "utf8"), file: p.logFile }
  })

export const run = Effect.gen(function* () {
  const ws = yield* Workspace
  const credentials = yield* Flow.credentials
  const sandbox = yield* Flow.sandbox("secrets-sandbox", credentials)
  const upstream = { url: sandbox.url, token: sandbox.token }
  const dataDir = yield* ws.dir("secrets-data")
  const store: Apps.StoreTarget = { _tag: "sqlite", dataDir }
  const port = yield* Ports.free
  const subscriber = { url: "http://127.0.0.1:9/unused", secret: Secrets.newWebhookSecret() }
  yield* ws.secrets.add("the subscriber's signing secret", subscriber.secret)
  const base = Apps.relay({
    name: "x",
    port,
    store,
    upstream,
    webhookSecret: credentials.webhookSecret,
    adminToken: credentials.adminToken,
    secretsKey: credentials.secretsKey,
    subscriber
  })

  // One real order, registered by a relay, so the reconciler below has something to ask HL Connect about.
  const relay = yield* launch({ ...base, name: "secrets-relay" })
  const { purchases } = yield* Flow.purchases(1, sandbox, "secrets")
  yield* Sender.sendAll({
    purchases,
    relays: [Apps.urlOf(port)],
    sign: Purchases.signer(credentials.webhookSecret),
    concurrency: 1,
    giveUpAfter: Duration.seconds(30)
  })
  yield* SandboxAdmin.stats(sandbox).pipe(
    Effect.filterOrFail(
      (st) => Object.keys(st.registrations).length > 0,
      () => new SetupFailed({ message: "the secrets scenario's order was not registered within 30 s" })
    ),
    Effect.retry({ schedule: Schedule.spaced(Duration.millis(300)), times: 100 })
  )
  yield* relay.stop()

  const badSecret = Secrets.newToken("not-a-whsec")
  const shortAdmin = `short${Secrets.newToken("a").slice(0, 6)}`
  const subscriberSecret = Secrets.newWebhookSecret()
  const dbPassword = Secrets.newToken("dbpass")
  const wrongToken = Secrets.newToken("wrong-hl-token")
  for (const [label, value] of [
    ["a malformed webhook secret", badSecret],
    ["a too-short admin token", shortAdmin],
    ["a secret in malformed RELAY_SUBSCRIBERS", subscriberSecret],
    ["a database password", dbPassword],
    ["a wrong HL Connect token", wrongToken]
  ] as const) {
    yield* ws.secrets.add(label, value)
  }

  const graphql = Apps.graphql({ name: "x", port, store, upstream, apiKey: credentials.graphqlKey })
  const reconciler = Apps.reconciler({ name: "x", store, upstream })
  const probes: ReadonlyArray<Probe> = [
    {
      name: "secrets-relay-bad-webhook-secret",
      spec: { ...base, env: { ...base.env, RELAY_WEBHOOK_SECRETS: `${credentials.webhookSecret},${badSecret}` } },
      code: 1,
      names: "RELAY_WEBHOOK_SECRETS"
    },
    {
      name: "secrets-relay-short-admin-token",
      spec: { ...base, env: { ...base.env, RELAY_ADMIN_TOKEN: shortAdmin } },
      code: 1,
      names: "RELAY_ADMIN_TOKEN"
    },
    {
      name: "secrets-relay-malformed-subscribers",
      spec: {
        ...base,
        env: { ...base.env, RELAY_SUBSCRIBERS: `[{"url":"http://127.0.0.1:9/x","secret":"${subscriberSecret}"` }
      },
      code: 1,
      names: "RELAY_SUBSCRIBERS"
    },
    {
      name: "secrets-graphql-bad-database-url",
      spec: { ...graphql, env: { ...graphql.env, DATABASE_URL: `mysql://chaos:${dbPassword}@127.0.0.1:3306/hl` } },
      code: 1,
      names: "DATABASE_URL"
    },
    {
      name: "secrets-reconciler-wrong-token",
      spec: { ...reconciler, env: { ...reconciler.env, HLCONNECT_TOKEN: wrongToken } },
      code: 3,
      names: "HLCONNECT_TOKEN"
    }
  ]
  const problems: Array<string> = []
  for (const probe of probes) {
    const result = yield* exitOf({ ...probe.spec, name: probe.name })
    if (result.code !== probe.code)
      problems.push(`${probe.name}: exited ${result.code}, expected ${probe.code}; see ${result.file}`)
    if (!result.log.includes(probe.names)) problems.push(`${probe.name}: the message does not name ${probe.names}`)
  }

  const report = yield* ws.secrets.scan
  const byWhat = new Map<string, Array<Secrets.Hit>>()
  for (const hit of report.hits) byWhat.set(hit.what, [...(byWhat.get(hit.what) ?? []), hit])
  for (const [what, hits] of byWhat) {
    const first = hits[0]
    problems.push(
      `${hits.length}× ${what} in the logs, e.g. ${first === undefined ? "" : `${first.file}:${first.line}`}`
    )
  }
  return {
    load: `${report.files} logs, ${(report.bytes / 2 ** 20).toFixed(1)} MiB`,
    faults: `${probes.length} misconfigured starts`,
    lost: undefined,
    duplicated: undefined,
    problems,
    facts: [
      `looked for ${report.secrets} secrets verbatim (tokens, whsec_ secrets and their base64 keys, admin token, API keys, passwords) and ${Flow.count(report.tokens)} validation tokens and URL ids word by word, plus /nf/ URLs, whsec_…, Bearer … and database-URL passwords by pattern`,
      `misconfigured starts: ${probes.map((p) => `${p.names} → exit ${p.code}`).join(", ")}`
    ]
  } satisfies Flow.Outcome
})
