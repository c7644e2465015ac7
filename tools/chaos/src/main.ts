#!/usr/bin/env node
/**
 * `pnpm chaos`: the fault campaign against the built apps as real processes. Prints the summary
 * table (and notes) on stdout, progress on stderr (log lines; on a terminal also one line redrawn in
 * place: scenario i/n, elapsed, the scenario running), writes tools/chaos/RESULTS.md (whole campaigns
 * only), and exits 1 when any scenario fails. Options: see CampaignConfig.ts.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Progress } from "@hlconnect/service"
import { Clock, Console, Effect, Logger, LogLevel, Ref } from "effect"
import { writeFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import * as Campaign from "./Campaign.js"
import { CampaignConfig, describe, scenarioNames } from "./CampaignConfig.js"
import { FileFailure, messageOf, SetupFailed } from "./Errors.js"
import * as Table from "./Table.js"
import * as Workspace from "./Workspace.js"

const resultsFile = fileURLToPath(new URL("../RESULTS.md", import.meta.url))
/** stderr's progress line: drawn only when stderr is a TTY; log lines go above it. */
const terminal = Progress.line(process.stderr)

const program = Effect.gen(function* () {
  const options = yield* CampaignConfig.pipe(
    Effect.mapError((e) => new SetupFailed({ message: `invalid option: ${e}` }))
  )
  const startedAt = new Date(yield* Clock.currentTimeMillis)
  yield* Effect.logInfo(`chaos: ${describe(options)}`)
  // On a terminal, one line redrawn under the log lines: scenario i/n, time so far, the one running.
  const current = yield* Ref.make({ index: 0, name: options.scenarios[0] ?? "", since: 0 })
  const render = (elapsedMs: number) =>
    Effect.map(Ref.get(current), ({ index, name, since }) =>
      Progress.stepLine({
        label: "chaos: scenario",
        index: index + 1,
        total: options.scenarios.length,
        elapsedMs,
        current: `${name} (${Progress.formatDuration(Math.max(0, elapsedMs - since))})`
      })
    )
  const campaign = Progress.during(
    terminal,
    render,
    Clock.currentTimeMillis.pipe(
      Effect.flatMap((campaignStart) =>
        Campaign.run(options, (index, name) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Ref.set(current, { index, name, since: now - campaignStart })
          )
        )
      )
    )
  )
  const rows = yield* campaign.pipe(Effect.provide(Workspace.layer({ seed: options.seed, keep: options.keep })))
  const seconds = ((yield* Clock.currentTimeMillis) - startedAt.getTime()) / 1000
  yield* Console.log(
    `\n${Table.render(rows)}\n\n${Table.renderNotes(rows)}\n\nTotal: ${seconds.toFixed(0)} s on ${Table.machine()}`
  )
  // RESULTS.md holds the latest whole campaign, not a partial one.
  if (options.scenarios.length === scenarioNames.length) {
    yield* Effect.tryPromise({
      try: () => writeFile(resultsFile, Table.markdown({ rows, startedAt, seconds, settings: describe(options) })),
      catch: (cause) => new FileFailure({ path: resultsFile, message: messageOf(cause) })
    })
  } else {
    yield* Effect.logInfo(`chaos: ${resultsFile} not written (only some scenarios ran)`)
  }
  if (rows.some((r) => r.result === "FAIL")) {
    yield* Console.error("chaos: at least one scenario FAILED")
    yield* Effect.sync(() => {
      process.exitCode = 1
    })
  }
})

/** Progress on stderr, one line each (above the redrawn progress line on a terminal): stdout carries only the summary. */
const progress = Logger.make(({ date, logLevel, message }) => {
  const parts = Array.isArray(message) ? message : [message]
  const text = parts.map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")
  terminal.above(`[${date.toISOString().slice(11, 19)}] ${logLevel.label} ${text}`)
})

program.pipe(
  Effect.provide(Logger.replace(Logger.defaultLogger, progress)),
  Logger.withMinimumLogLevel(LogLevel.Info),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
