#!/usr/bin/env node
/** `npm run demo`: one signed demo `order.paid` to the running launcher, followed until it settles. */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { runMain } from "@hlconnect/service"
import { Effect } from "effect"
import { program } from "./DemoOrder.js"

runMain(program.pipe(Effect.provide(FetchHttpClient.layer)), { name: "demo" })
