/**
 * The whole product in one process, as layers: the sandbox (unless `HLCONNECT_BASE_URL` names a
 * real HL Connect), the webhook relay, the reconciler on its schedule and the GraphQL facade, each
 * on its own port, all on one store and one HL Connect client. Closing the scope (SIGINT/SIGTERM)
 * stops the apps before what they depend on: servers drain, workers stop, then the store closes.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import { type HlConnect, HlConnectConfig, type HlConnectOptions } from "@hlconnect/core"
import { GraphqlConfig, type GraphqlSettings, layer as graphqlLayer } from "@hlconnect/graphql"
import { Scheduled } from "@hlconnect/reconciler"
import { SandboxConfig, type SandboxOptions } from "@hlconnect/sandbox"
import { Health, HttpMetrics, HttpServing, type InvalidConfiguration, loadConfig, OpsRoutes } from "@hlconnect/service"
import { PrivateFiles, Store, StoreConfig, type StoreTarget } from "@hlconnect/store"
import { Relay, RelayConfig } from "@hlconnect/webhook-relay"
import { Config, type Context, Effect, Layer, Option } from "effect"
import * as Addresses from "./Addresses.js"
import * as Banner from "./Banner.js"
import * as DemoSubscriber from "./DemoSubscriber.js"
import { LauncherConfig, type LauncherSettings, defaultSchedule } from "./LauncherConfig.js"
import * as LauncherFile from "./LauncherFile.js"
import * as Secrets from "./Secrets.js"
import * as Upstream from "./Upstream.js"

const AppsConfig = Config.all({
  relay: RelayConfig.RelayConfig,
  graphql: GraphqlConfig,
  sandbox: SandboxConfig,
  hlconnect: HlConnectConfig,
  store: StoreConfig,
  reconciler: Scheduled.ScheduledConfig(defaultSchedule)
})

/** Everything the launcher runs with, read and validated before anything starts. */
export interface Plan {
  readonly settings: LauncherSettings
  readonly filePath: string
  readonly file: LauncherFile.LauncherFile
  readonly relay: RelayConfig.RelayConfig
  readonly graphql: GraphqlSettings
  readonly sandbox: SandboxOptions
  readonly hlconnect: HlConnectOptions
  readonly store: StoreTarget
  readonly reconciler: Scheduled.ScheduledSettings
}

/**
 * The launcher's settings, then every app's own configuration at once (each problem named by its
 * variable), with the generated secrets standing in for unset ones.
 */
export const loadPlan: Effect.Effect<Plan, InvalidConfiguration | LauncherFile.LauncherFileError> = Effect.gen(
  function* () {
    const settings = yield* loadConfig(LauncherConfig)
    const filePath = LauncherFile.pathIn(settings.dataDir)
    const file = yield* LauncherFile.loadOrCreate(filePath)
    const provider = Secrets.provider(file.generated, { sandbox: Option.isNone(settings.upstream) })
    const apps = yield* loadConfig(AppsConfig).pipe(Effect.withConfigProvider(provider))
    // On SQLite the store checks DATA_DIR (its file's directory) as it opens; on PostgreSQL it holds launcher.json alone.
    if (apps.store._tag === "Postgres") {
      yield* PrivateFiles.ensureDirectory(settings.dataDir).pipe(
        Effect.mapError(
          (cause) => new LauncherFile.LauncherFileError({ message: `cannot check ${settings.dataDir}`, cause })
        )
      )
    }
    return { settings, filePath, file, ...apps }
  }
)

/** The relay's configuration with the demo subscriber added to the subscribers it seeds. */
const withDemoSubscriber = (
  config: RelayConfig.RelayConfig,
  demo: DemoSubscriber.DemoSubscriber["Type"]
): RelayConfig.RelayConfig =>
  Option.match(demo, {
    onNone: () => config,
    onSome: ({ secret, url }) => ({
      ...config,
      seedSubscribers: [...config.seedSubscribers, { url, secret, events: ["*"] }]
    })
  })

export const layer = (plan: Plan) => {
  const { ports, host, shutdownGrace } = plan.settings
  /** The launcher's variable for each app's port, named when the port cannot be had. */
  const portVariables: Readonly<Record<string, string>> = {
    sandbox: "SANDBOX_PORT",
    relay: "RELAY_PORT",
    reconciler: "RECONCILER_PORT",
    graphql: "GRAPHQL_PORT",
    "demo-subscriber": "DEMO_SUBSCRIBER_PORT"
  }
  const server = (port: number, app: string) =>
    HttpServing.serverLayer({ port, host, shutdownGrace, portVariable: portVariables[app] ?? "PORT" }).pipe(
      Layer.annotateLogs("app", app)
    )
  /** An app on a server of its own: its logs named, its address published, a health registry of its own. */
  const onItsServer = <A, E, R, I>(
    app: Layer.Layer<A, E, R>,
    name: string,
    port: number,
    address: Context.Tag<I, Addresses.Address>
  ) =>
    app.pipe(
      Layer.annotateLogs("app", name),
      Layer.merge(Addresses.fromServer(address)),
      Layer.provide(Layer.fresh(Health.Health.Default)),
      Layer.provide(server(port, name))
    )

  // One store and one HL Connect client for every app: the same layer value is built once.
  const store = Store.layerFor(plan.store)
  const upstream: Layer.Layer<HlConnect | Upstream.Upstream, HttpServing.ListenError> = Option.match(
    plan.settings.upstream,
    {
      onNone: () =>
        Upstream.sandbox(plan.hlconnect, { options: plan.sandbox, server: server(ports.sandbox, "sandbox") }),
      onSome: (url) => Upstream.remote(plan.hlconnect, url)
    }
  )

  // Provides the workflow (Fulfilment) too: the relay and GraphQL register and cancel through the same one.
  const reconciler = Scheduled.layerWith(
    {
      schedule: plan.reconciler.schedule,
      settings: plan.reconciler.settings,
      audit: plan.reconciler.audit,
      retention: plan.reconciler.retention,
      quietTicks: true
    },
    plan.reconciler.policy
  ).pipe(Layer.annotateLogs("app", "reconciler"), Layer.provide(store), Layer.provide(upstream))
  const reconcilerOps = onItsServer(
    HttpServer.serve(OpsRoutes.router, HttpMetrics.middleware),
    "reconciler",
    ports.reconciler,
    Addresses.ReconcilerAddress
  )

  const demo: Layer.Layer<DemoSubscriber.DemoSubscriber, DemoSubscriber.InvalidDemoSecret | HttpServing.ListenError> =
    plan.settings.demoSubscriber
      ? DemoSubscriber.layer(plan.file.generated.demoSubscriberSecret).pipe(
          Layer.annotateLogs("app", "demo-subscriber"),
          Layer.provide(server(ports.demoSubscriber, "demo-subscriber"))
        )
      : DemoSubscriber.off

  const relay = onItsServer(
    Layer.unwrapEffect(
      Effect.map(DemoSubscriber.DemoSubscriber, (d) => Relay.layer(withDemoSubscriber(plan.relay, d)))
    ),
    "relay",
    ports.relay,
    Addresses.RelayAddress
  ).pipe(Layer.provide(demo), Layer.provide(reconciler), Layer.provide(store))

  const graphql = onItsServer(graphqlLayer(plan.graphql), "graphql", ports.graphql, Addresses.GraphqlAddress).pipe(
    Layer.provide(reconciler),
    Layer.provide(upstream),
    Layer.provide(store)
  )

  const banner = Banner.announce({
    settings: plan.settings,
    file: plan.file,
    filePath: plan.filePath,
    storeDescription: plan.store._tag === "Postgres" ? "PostgreSQL (DATABASE_URL)" : `SQLite ${plan.store.filename}`,
    schedule: plan.reconciler.schedule.expression
  })
  // Announced once every app is up.
  return Layer.effectDiscard(banner).pipe(
    Layer.provide(Layer.mergeAll(relay, graphql, reconciler, reconcilerOps, demo, upstream))
  )
}

/** `loadPlan` then `layer`: the launcher as `main` runs it. */
export const LauncherLive = Layer.unwrapEffect(Effect.map(loadPlan, layer))
