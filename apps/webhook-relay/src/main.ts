import { launch } from "@hlconnect/service"
import { layerConfig } from "./Relay.js"

launch(layerConfig, { name: "relay" })
