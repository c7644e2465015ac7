#!/usr/bin/env node
/**
 * The `hlconnect-contract` binary (`pnpm contract`). The report goes to stdout (a table, or JSON
 * with `--json`); anything that stops the run goes to stderr with exit code 2 (see Cli.ts).
 */
import { ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect } from "effect"
import { cannotRun, cli } from "./Cli.js"

Effect.suspend(() => cli(process.argv)).pipe(
  Effect.catchAllCause((cause) =>
    Effect.zipRight(
      // Invalid flags were already explained by the CLI; anything else is said once here.
      Cause.isFailType(cause) && ValidationError.isValidationError(cause.error)
        ? Effect.void
        : Console.error(`hlconnect-contract: could not run: ${Cause.pretty(cause)}`),
      cannotRun
    )
  ),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
