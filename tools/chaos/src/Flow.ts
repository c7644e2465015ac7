/**
 * What the purchase-flow scenarios (faults, crashes, replicas) share: fresh credentials (all
 * registered for the secret scan), a sandbox process, the planned and validated purchases, and
 * the outcome every scenario reports.
 */
import { Effect } from "effect"
import * as Apps from "./Apps.js"
import type * as Processes from "./Processes.js"
import * as Ports from "./Ports.js"
import * as Purchases from "./Purchases.js"
import * as Secrets from "./Secrets.js"
import { Workspace, launch } from "./Workspace.js"

export interface Credentials {
  readonly sandboxToken: string
  readonly webhookSecret: string
  readonly adminToken: string
  /** RELAY_SECRETS_KEY: seals subscriber signing secrets in the store. */
  readonly secretsKey: string
  readonly graphqlKey: string
}

/** Fresh credentials, each registered with the secret scan. */
export const credentials = Effect.gen(function* () {
  const ws = yield* Workspace
  const c: Credentials = {
    sandboxToken: Secrets.newToken("sandbox"),
    webhookSecret: Secrets.newWebhookSecret(),
    adminToken: Secrets.newToken("admin"),
    secretsKey: Secrets.newSecretsKey(),
    graphqlKey: Secrets.newToken("gqlkey")
  }
  yield* ws.secrets.add("the HL Connect bearer token", c.sandboxToken)
  yield* ws.secrets.add("the inbound webhook secret", c.webhookSecret)
  yield* ws.secrets.add("the relay admin token", c.adminToken)
  yield* ws.secrets.add("the relay secrets key", c.secretsKey)
  yield* ws.secrets.add("a GraphQL API key", c.graphqlKey)
  return c
})

export interface RunningSandbox {
  readonly process: Processes.AppProcess
  readonly url: string
  readonly token: string
}

export const sandbox = (name: string, credentials: Credentials, fulfilmentDelay?: string) =>
  Effect.gen(function* () {
    const ws = yield* Workspace
    const port = yield* Ports.free
    const process = yield* launch(
      Apps.sandbox({
        name,
        port,
        token: credentials.sandboxToken,
        seed: ws.random.int(1, 1_000_000),
        ...(fulfilmentDelay === undefined ? {} : { fulfilmentDelay })
      })
    )
    return { process, url: Apps.urlOf(port), token: credentials.sandboxToken } satisfies RunningSandbox
  })

/**
 * `count` planned orders, validated at the sandbox; their tokens registered with the secret scan.
 * `refunds` holds the `order.refunded` of the share `refundRate` of them.
 */
export const purchases = (count: number, sandbox: RunningSandbox, label: string, refundRate = 0) =>
  Effect.gen(function* () {
    const ws = yield* Workspace
    const orders = Purchases.plan(count, ws.random, Purchases.orderBase(ws.random), refundRate)
    const validated = yield* Purchases.validate(orders, sandbox, label)
    yield* ws.secrets.addTokens(
      "a validation token",
      validated.flatMap((p) => p.tokens)
    )
    return { orders, purchases: validated, refunds: Purchases.refunds(validated, label) }
  })

/** What a scenario reports; `Campaign` turns it into a table row. */
export interface Outcome {
  readonly load: string
  readonly faults: string
  readonly lost: number | undefined
  readonly duplicated: number | undefined
  /** Empty when the scenario's guarantees hold. */
  readonly problems: ReadonlyArray<string>
  readonly facts: ReadonlyArray<string>
}

/** Problems from processes that exited on their own. */
export const unexpectedExits = (processes: ReadonlyArray<Processes.AppProcess>) =>
  Effect.map(
    Effect.forEach(processes, (p) =>
      Effect.map(p.exits, (exits) =>
        exits
          .filter((e) => !e.caused)
          .map((e) => `${p.name} exited on its own (code ${e.code}, signal ${e.signal}); see ${p.logFile}`)
      )
    ),
    (all) => all.flat()
  )

export const count = (n: number): string => n.toLocaleString("en-US")
