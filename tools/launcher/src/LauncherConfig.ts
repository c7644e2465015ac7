/**
 * The launcher's own settings. Every app keeps reading its own variables (`RELAY_*`,
 * `GRAPHQL_*`, `SANDBOX_*`, `RECONCILE_*`, `HLCONNECT_*` …); only what cannot be shared in one
 * process is the launcher's: one port per app instead of `PORT`, and the loopback default for
 * `HOST`, since a first run serves generated secrets.
 */
import { ServiceConfig } from "@hlconnect/service"
import { Config, type Duration, Option } from "effect"

export const defaultPorts = {
  graphql: 4000,
  sandbox: 4010,
  relay: 4020,
  reconciler: 4030,
  demoSubscriber: 4040
} as const

/** Every 2 seconds: a demo order goes paid → completed while the user watches. */
export const defaultSchedule = "*/2 * * * * *"

export const defaultDataDir = ".data"

export interface Ports {
  readonly graphql: number
  readonly sandbox: number
  readonly relay: number
  readonly reconciler: number
  readonly demoSubscriber: number
}

/** Which secrets the environment supplies; the others come from the launcher's file. */
export interface Supplied {
  readonly relayWebhookSecrets: boolean
  readonly relayAdminToken: boolean
  readonly relaySecretsKey: boolean
  readonly graphqlApiKeys: boolean
  readonly sandboxTokens: boolean
}

export interface LauncherSettings {
  readonly ports: Ports
  readonly host: string
  readonly shutdownGrace: Duration.Duration
  /** Where `launcher.json` lives (and the SQLite file, unless `DATABASE_URL` is set). */
  readonly dataDir: string
  /** `None`: run the sandbox in-process; `Some`: talk to this HL Connect instead. */
  readonly upstream: Option.Option<URL>
  readonly demoSubscriber: boolean
  readonly supplied: Supplied
}

const isSet = (name: string) => Config.option(Config.string(name)).pipe(Config.map(Option.isSome))

/**
 * `GRAPHQL_PORT` (4000), `SANDBOX_PORT` (4010), `RELAY_PORT` (4020), `RECONCILER_PORT` (4030),
 * `DEMO_SUBSCRIBER_PORT` (4040), `HOST` (127.0.0.1), `SHUTDOWN_GRACE`, `DATA_DIR` (.data),
 * `HLCONNECT_BASE_URL` (unset: the sandbox), `DEMO_SUBSCRIBER` (on with the sandbox, off otherwise).
 */
export const LauncherConfig: Config.Config<LauncherSettings> = Config.all({
  ports: Config.all({
    graphql: ServiceConfig.port("GRAPHQL_PORT", defaultPorts.graphql),
    sandbox: ServiceConfig.port("SANDBOX_PORT", defaultPorts.sandbox),
    relay: ServiceConfig.port("RELAY_PORT", defaultPorts.relay),
    reconciler: ServiceConfig.port("RECONCILER_PORT", defaultPorts.reconciler),
    demoSubscriber: ServiceConfig.port("DEMO_SUBSCRIBER_PORT", defaultPorts.demoSubscriber)
  }),
  host: Config.nonEmptyString("HOST").pipe(Config.withDefault("127.0.0.1")),
  shutdownGrace: ServiceConfig.shutdownGrace,
  dataDir: Config.nonEmptyString("DATA_DIR").pipe(Config.withDefault(defaultDataDir)),
  upstream: Config.option(Config.url("HLCONNECT_BASE_URL")),
  demoSubscriber: Config.option(Config.boolean("DEMO_SUBSCRIBER")),
  supplied: Config.all({
    relayWebhookSecrets: isSet("RELAY_WEBHOOK_SECRETS"),
    relayAdminToken: isSet("RELAY_ADMIN_TOKEN"),
    relaySecretsKey: isSet("RELAY_SECRETS_KEY"),
    graphqlApiKeys: isSet("GRAPHQL_API_KEYS"),
    sandboxTokens: isSet("SANDBOX_TOKENS")
  })
}).pipe(
  // The demo belongs with the sandbox; against a real HL Connect it is opt-in.
  Config.map(({ demoSubscriber, ...rest }) => ({
    ...rest,
    demoSubscriber: Option.getOrElse(demoSubscriber, () => Option.isNone(rest.upstream))
  }))
)
