/**
 * The relay as one layer: the HTTP routes (ingest, admin, ops) on the provided `HttpServer`,
 * plus the dispatcher, delivery, subscriber-health and retention loops as scoped fibers. On
 * shutdown the server drains first, then the workers stop, then the committer tells any queued
 * request it was not stored.
 */
import { HttpRouter, HttpServer } from "@effect/platform"
import { SqlClient } from "@effect/sql/SqlClient"
import { HlConnect } from "@hlconnect/core"
import { Fulfilment, FulfilmentConfig, type FulfilmentPolicy } from "@hlconnect/fulfilment"
import { Health, HttpMetrics, HttpServing, loadConfig, OpsRoutes } from "@hlconnect/service"
import { InboxWriter, SecretBox, Store, Subscribers } from "@hlconnect/store"
import { Effect, Layer, Option } from "effect"
import * as Admin from "./Admin.js"
import * as Delivery from "./Delivery.js"
import * as Dispatcher from "./Dispatcher.js"
import * as Doorbell from "./Doorbell.js"
import * as InboundAdmission from "./InboundAdmission.js"
import * as Ingest from "./Ingest.js"
import * as RelayConfig from "./RelayConfig.js"
import * as Retention from "./Retention.js"
import * as SubscriberHealth from "./SubscriberHealth.js"
import * as SubscriberUrl from "./SubscriberUrl.js"

export const ingestPath = Ingest.path

/**
 * Creates the configured subscribers that do not exist yet (matched by URL), so restarts are
 * idempotent. Their URLs pass the same guard as the admin API's.
 */
const seedSubscribers = (config: RelayConfig.RelayConfig, guard: SubscriberUrl.Guard) =>
  Effect.gen(function* () {
    if (config.seedSubscribers.length === 0) return
    const subscribers = yield* Subscribers.Subscribers
    const existing = new Set((yield* subscribers.list()).map((s) => s.url))
    for (const [i, seed] of config.seedSubscribers.entries()) {
      const named = Effect.mapError(
        (e: SubscriberUrl.SubscriberUrlRejected) =>
          new SubscriberUrl.SubscriberUrlRejected({
            code: e.code,
            message: `RELAY_SUBSCRIBERS #${i + 1}: ${e.message}`
          })
      )
      // Stored as contacted (`URL.href`); one seeded before URLs were normalised is matched as given.
      const url = (yield* named(guard.parse(seed.url))).href
      if (existing.has(url) || existing.has(seed.url)) continue
      yield* named(guard.check(url))
      // Atomic per URL: replicas starting together seed one subscriber, not one each.
      const seeded = yield* subscribers.seed({ url, signingSecret: seed.secret, eventFilter: seed.events })
      if (seeded.created) {
        yield* Effect.logInfo("subscriber seeded from RELAY_SUBSCRIBERS", {
          subscriberId: seeded.subscriber.subscriberId,
          url: seeded.subscriber.url
        })
      }
    }
  })

/**
 * Seal what the store holds unsealed or under an older key (`Subscribers.resealSecrets`): rows
 * from a database made before secrets were sealed, and rows sealed before `RELAY_SECRETS_KEY`
 * got a new first key. A row sealed under a key the list lacks stops the start, naming the key id.
 */
const sealStoredSecrets = (config: RelayConfig.RelayConfig) =>
  Effect.gen(function* () {
    const subscribers = yield* Subscribers.Subscribers
    const { sealed, resealed } = yield* subscribers.resealSecrets
    if (sealed > 0) {
      yield* Effect.logInfo(
        `encrypted ${sealed} subscriber signing secret(s) stored in plaintext by an earlier version (RELAY_SECRETS_KEY)`
      )
    }
    if (resealed > 0) {
      yield* Effect.logInfo(
        `re-encrypted ${resealed} subscriber signing secret(s) under the first RELAY_SECRETS_KEY key (id ${config.secretKeys[0].id}); once every replica runs with it first, the older keys can be removed`
      )
    }
  }).pipe(Effect.catchTag("SealedSecretUnreadable", (e) => Effect.dieMessage(`RELAY_SECRETS_KEY: ${e.message}`)))

export interface Options {
  /** Start the dispatcher, delivery, subscriber-health and retention loops (default true). */
  readonly workers?: boolean
  /**
   * `auto` (default): the store's choice — on a SQLite file, a worker thread that also verifies
   * and decodes (`InboundAdmission`); `store`: always `Inbox.appendBatch`, verdicts on this thread.
   */
  readonly inboxWriter?: "auto" | "store" | InboxWriter.InboxWriterService
  /** Take `POST /webhooks/commerce` on the raw node:http request, before the Effect router (default true). */
  readonly fastPath?: boolean
}

/** The relay on whatever server, store, HL Connect client and Fulfilment are provided. */
export const layer = (
  config: RelayConfig.RelayConfig,
  options: Options = {}
): Layer.Layer<
  never,
  never,
  | HttpServer.HttpServer
  | HttpRouter.HttpRouter.DefaultServices
  | Health.Health
  | Fulfilment
  | Store.StoreServices
  | SqlClient
> =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const inboxBell = yield* Doorbell.make
      const deliveryBell = yield* Doorbell.make
      // Tests may provide their own resolver (to play DNS tricks); otherwise the system's.
      const resolver = yield* Effect.serviceOption(SubscriberUrl.HostResolver).pipe(
        Effect.flatMap(
          Option.match({
            onSome: Effect.succeed,
            onNone: () => Effect.provide(SubscriberUrl.HostResolver, SubscriberUrl.HostResolver.Default)
          })
        )
      )
      const guard = SubscriberUrl.make({ allowPrivate: config.allowPrivateSubscribers, resolver })
      if (config.allowPrivateSubscribers) {
        yield* Effect.logWarning(
          "RELAY_ALLOW_PRIVATE_SUBSCRIBERS is on: subscribers may be http:// and private addresses (development only)"
        )
      }
      // A relay that cannot read its subscribers' secrets, or seed its configured subscribers (bad URL, store down), must not start.
      yield* sealStoredSecrets(config).pipe(Effect.orDie)
      yield* seedSubscribers(config, guard).pipe(Effect.orDie)
      const health = yield* Health.Health
      const sql = yield* SqlClient
      yield* health.register("store", sql`SELECT 1`)

      const writer =
        typeof options.inboxWriter === "object"
          ? options.inboxWriter
          : options.inboxWriter === "store"
            ? yield* InboxWriter.makeStore
            : // A relay that cannot write its inbox must not start.
              yield* Effect.orDie(
                InboxWriter.makeWith({ admission: InboundAdmission.module(InboundAdmission.settingsOf(config)) })
              )
      yield* Effect.logInfo(
        `inbox commits via ${writer.kind}${writer.admitCallback === undefined ? "" : " (verified and decoded there too)"}`
      )
      const ingest = yield* Ingest.make(config, writer, { onCommitted: inboxBell.ringNow })
      const admin = yield* Admin.make(config, { inbox: inboxBell, deliveries: deliveryBell, guard })
      if (options.workers ?? true) {
        const health = yield* SubscriberHealth.make(config)
        const dispatcher = yield* Dispatcher.make(config, { bell: inboxBell, deliveries: deliveryBell })
        const delivery = yield* Delivery.make(config, { bell: deliveryBell, guard, health })
        const retention = yield* Retention.make(config)
        yield* Effect.forkScoped(dispatcher.run)
        yield* Effect.forkScoped(delivery.run)
        yield* Effect.forkScoped(health.run)
        yield* Effect.forkScoped(retention.run)
      }

      const app = OpsRoutes.router.pipe(
        HttpRouter.post(ingestPath, ingest.handler),
        HttpRouter.provideService(Health.Health, health),
        // The admin API is its own HttpApi app (`AdminApi`), mounted with its full paths. Mounted last:
        // `provideService` rebuilds a router's mounts without their options (platform 0.97), dropping `includePrefix`.
        HttpRouter.mountApp("/admin", admin, { includePrefix: true })
      )
      const server = yield* HttpServer.HttpServer
      // Registered before serving, so it is removed after the server has drained.
      const fast = (options.fastPath ?? true) && (yield* HttpServing.addRawHandler(server, ingest.handleRaw))
      yield* Effect.logDebug(fast ? "ingest on the raw node:http fast path" : "ingest on the Effect router")
      yield* HttpServer.serveEffect(app, HttpMetrics.middleware)
    }).pipe(
      // Everything that stores or reads a subscriber's signing secret seals and opens it with the configured keys.
      Effect.provide(SecretBox.layer(config.secretKeys))
    )
  )

/** `layer` with Fulfilment and Health wired: needs the server, the store and HL Connect. */
export const layerWith = (config: RelayConfig.RelayConfig, policy: FulfilmentPolicy, options: Options = {}) =>
  layer(config, options).pipe(Layer.provide(Layer.mergeAll(Fulfilment.Default(policy), Health.Health.Default)))

/** Everything from the environment: `PORT` (4020), `RELAY_*`, `HLCONNECT_*`, `DATABASE_URL`/`DATA_DIR`, `FULFILMENT_*`. */
export const layerConfig = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* RelayConfig.load
    const policy = yield* loadConfig(FulfilmentConfig)
    return layerWith(config, policy).pipe(
      Layer.provide(HttpServing.serverLayerFromConfig(4020)),
      Layer.provideMerge(HlConnect.layerConfig()),
      Layer.provideMerge(Store.layer)
    )
  })
)
