/**
 * The facade wired from the environment: its own settings, the HL Connect client, the store,
 * the order workflow (`FULFILMENT_*`) and the HTTP server (`PORT`, default 4000). All configuration is read and validated before
 * anything starts, and every problem is reported at once, by variable name.
 */
import { HlConnect, HlConnectConfig } from "@hlconnect/core"
import { Fulfilment, FulfilmentConfig } from "@hlconnect/fulfilment"
import { Health, HttpServing, loadConfig } from "@hlconnect/service"
import { Store, StoreConfig } from "@hlconnect/store"
import { Config, Effect, Layer } from "effect"
import { GraphqlConfig } from "./Config.js"
import * as Server from "./Server.js"

export const defaultPort = 4000

const AllConfig = Config.all({
  graphql: GraphqlConfig,
  hlconnect: HlConnectConfig,
  store: StoreConfig,
  fulfilment: FulfilmentConfig
})

export const GraphqlLive = Layer.unwrapEffect(
  Effect.map(loadConfig(AllConfig), ({ graphql, hlconnect, store, fulfilment }) =>
    Server.layer(graphql).pipe(
      Layer.provide(Health.Health.Default),
      // The same workflow as the relay and the reconciler, on the same store and client.
      Layer.provide(Fulfilment.Default(fulfilment)),
      Layer.provide(HlConnect.layer(hlconnect)),
      Layer.provide(Store.layerFor(store)),
      Layer.provide(HttpServing.serverLayerFromConfig(defaultPort))
    )
  )
)
