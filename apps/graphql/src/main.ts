#!/usr/bin/env node
/** Runs the GraphQL facade until SIGINT/SIGTERM, then drains in-flight requests and exits. */
import { launch } from "@hlconnect/service"
import { GraphqlLive } from "./Live.js"

launch(GraphqlLive, { name: "graphql" })
