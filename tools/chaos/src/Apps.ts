/**
 * How each app is started as a process: its built `dist/main.js` and the environment variables
 * its config modules read (SandboxConfig, RelayConfig, ReconcilerConfig, the GraphQL Config,
 * StoreConfig, ClientConfig, the fulfilment Policy), tuned so a campaign runs in minutes.
 */
import { fileURLToPath } from "node:url"
import type { LaunchSpec } from "./Processes.js"

const root = fileURLToPath(new URL("../../../", import.meta.url))

export const scripts = {
  sandbox: `${root}packages/sandbox/dist/main.js`,
  relay: `${root}apps/webhook-relay/dist/main.js`,
  reconciler: `${root}apps/reconciler/dist/main.js`,
  graphql: `${root}apps/graphql/dist/main.js`
} as const

/** Where an app keeps its state: a SQLite directory, or a PostgreSQL URL (with its search_path). */
export type StoreTarget =
  | { readonly _tag: "sqlite"; readonly dataDir: string }
  | { readonly _tag: "pg"; readonly url: string }

export interface Upstream {
  readonly url: string
  readonly token: string
}

const local = (port: number) => `http://127.0.0.1:${port}`

/** `Info` is production's default; `Debug` gives the secret scan more to read. */
export type LogLevel = "Info" | "Debug"

const common = (logLevel: LogLevel = "Info"): Record<string, string> => ({
  PATH: process.env.PATH ?? "",
  HOST: "127.0.0.1",
  LOG_FORMAT: "json",
  LOG_LEVEL: logLevel,
  SHUTDOWN_GRACE: "2 seconds"
})

const storeEnv = (store: StoreTarget): Record<string, string> =>
  store._tag === "sqlite" ? { DATA_DIR: store.dataDir } : { DATABASE_URL: store.url }

const upstreamEnv = (upstream: Upstream): Record<string, string> => ({
  HLCONNECT_BASE_URL: upstream.url,
  HLCONNECT_TOKEN: upstream.token,
  HLCONNECT_EXPECTED_ENVIRONMENT: "sandbox"
})

/** Polls soon and often: the sandbox fulfils within a second. */
const fulfilmentEnv: Record<string, string> = {
  FULFILMENT_FIRST_CHECK: "300 millis",
  FULFILMENT_MAX_CHECK_DELAY: "2 seconds",
  FULFILMENT_RETRY_DELAY: "500 millis"
}

export interface SandboxOptions {
  readonly name: string
  readonly port: number
  readonly token: string
  readonly seed: number
  readonly fulfilmentDelay?: string
}

export const sandbox = (o: SandboxOptions): LaunchSpec => ({
  name: o.name,
  script: scripts.sandbox,
  env: {
    ...common(),
    PORT: String(o.port),
    SANDBOX_TOKENS: o.token,
    SANDBOX_SEED: String(o.seed),
    SANDBOX_FULFILMENT_DELAY: o.fulfilmentDelay ?? "500 millis",
    SANDBOX_TOKEN_TTL: "2 hours"
  },
  readyUrl: local(o.port)
})

export interface RelayOptions {
  readonly name: string
  readonly port: number
  readonly store: StoreTarget
  readonly upstream: Upstream
  readonly webhookSecret: string
  readonly adminToken: string
  readonly secretsKey: string
  /** Seeded with `RELAY_SUBSCRIBERS` (a local http:// server: the SSRF guard is off). Without one the guard is on, as in production. */
  readonly subscriber?: { readonly url: string; readonly secret: string }
  readonly logLevel?: LogLevel
}

export const relay = (o: RelayOptions): LaunchSpec => ({
  name: o.name,
  script: scripts.relay,
  env: {
    ...common(o.logLevel),
    ...storeEnv(o.store),
    ...upstreamEnv(o.upstream),
    ...fulfilmentEnv,
    PORT: String(o.port),
    RELAY_WEBHOOK_SECRETS: o.webhookSecret,
    RELAY_ADMIN_TOKEN: o.adminToken,
    RELAY_SECRETS_KEY: o.secretsKey,
    ...(o.subscriber === undefined
      ? { RELAY_ALLOW_PRIVATE_SUBSCRIBERS: "false" }
      : {
          RELAY_SUBSCRIBERS: JSON.stringify([
            { url: o.subscriber.url, secret: o.subscriber.secret, events: ["order.*"] }
          ]),
          // The subscriber is a local http:// server.
          RELAY_ALLOW_PRIVATE_SUBSCRIBERS: "true"
        }),
    RELAY_POLL_INTERVAL: "200 millis",
    RELAY_RETRY_SCHEDULE:
      "200 millis,500 millis,1 second,2 seconds,3 seconds,5 seconds,5 seconds,10 seconds,10 seconds",
    RELAY_DISPATCH_RETRY_DELAY: "300 millis",
    // A killed relay's claimed events come back after this.
    RELAY_DISPATCH_LEASE: "5 seconds",
    RELAY_DELIVERY_TIMEOUT: "3 seconds"
  },
  readyUrl: local(o.port)
})

export interface ReconcilerOptions {
  readonly name: string
  readonly store: StoreTarget
  readonly upstream: Upstream
  /** `run --schedule <cron>` serving /health and /metrics on `port`; else `run --once`. */
  readonly schedule?: { readonly cron: string; readonly port: number }
  readonly logLevel?: LogLevel
}

export const reconciler = (o: ReconcilerOptions): LaunchSpec => ({
  name: o.name,
  script: scripts.reconciler,
  args: o.schedule === undefined ? ["run", "--once", "--json"] : ["run", "--schedule", o.schedule.cron],
  env: {
    ...common(o.logLevel),
    ...storeEnv(o.store),
    ...upstreamEnv(o.upstream),
    ...fulfilmentEnv,
    ...(o.schedule === undefined ? {} : { PORT: String(o.schedule.port) }),
    RECONCILE_CONCURRENCY: "16",
    RECONCILE_BATCH: "50",
    // A killed reconciler's orders come back after this.
    RECONCILE_LEASE: "5 seconds"
  },
  ...(o.schedule === undefined ? {} : { readyUrl: local(o.schedule.port) })
})

export interface GraphqlOptions {
  readonly name: string
  readonly port: number
  readonly store: StoreTarget
  readonly upstream: Upstream
  readonly apiKey: string
}

export const graphql = (o: GraphqlOptions): LaunchSpec => ({
  name: o.name,
  script: scripts.graphql,
  env: {
    ...common(),
    ...storeEnv(o.store),
    ...upstreamEnv(o.upstream),
    PORT: String(o.port),
    GRAPHQL_API_KEYS: o.apiKey,
    GRAPHIQL: "false"
  },
  readyUrl: local(o.port)
})

export const urlOf = (port: number): string => local(port)
