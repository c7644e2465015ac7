#!/usr/bin/env node
/**
 * The `reconcile` binary. Logs go to stderr (pretty on a terminal, JSON otherwise) so stdout
 * carries only the report; the exit code is set by the command (see Cli.ts).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Logging, runMain } from "@hlconnect/service"
import { Effect, Layer } from "effect"
import { cli } from "./Cli.js"

const toStderr: Logging.LineSink = (line) => {
  process.stderr.write(`${line}\n`)
}

const logging = Layer.unwrapEffect(
  Logging.loadSettings.pipe(
    Effect.orElseSucceed(Logging.fallbackSettings),
    Effect.map((settings) => Logging.layerWith(settings, toStderr))
  )
)

runMain(Effect.suspend(() => cli(process.argv)).pipe(Effect.provide(NodeContext.layer)), {
  name: "reconciler",
  logging
})
