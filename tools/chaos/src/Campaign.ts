/**
 * Runs the selected scenarios one after another (secrets last: it scans what the others logged)
 * and turns each outcome, or the error that stopped it, into a row of the summary.
 */
import { Cause, Clock, Effect } from "effect"
import type { CampaignOptions, ScenarioName } from "./CampaignConfig.js"
import { type CampaignError, describeError } from "./Errors.js"
import type { Outcome } from "./Flow.js"
import * as BadInput from "./scenarios/BadInput.js"
import * as Crashes from "./scenarios/Crashes.js"
import * as Faults from "./scenarios/Faults.js"
import * as Replicas from "./scenarios/Replicas.js"
import * as SecretLeaks from "./scenarios/SecretLeaks.js"
import type { Row } from "./Table.js"
import { Workspace } from "./Workspace.js"

const scenario = (name: ScenarioName, options: CampaignOptions): Effect.Effect<Outcome, CampaignError, Workspace> => {
  switch (name) {
    case "faults":
      return Effect.scoped(Faults.run({ orders: options.orders, settleTimeout: options.settleTimeout }))
    case "crashes":
      return Effect.scoped(
        Crashes.run({ orders: options.crashOrders, kills: options.kills, settleTimeout: options.settleTimeout })
      )
    case "replicas":
      return Effect.scoped(
        Replicas.run({ orders: options.orders, databaseUrl: options.databaseUrl, settleTimeout: options.settleTimeout })
      )
    case "bad-input":
      return Effect.scoped(BadInput.run({ requests: options.badInputs }))
    case "secrets":
      return Effect.scoped(SecretLeaks.run)
  }
}

const failedRow = (name: ScenarioName, problem: string, seconds: number): Row => ({
  scenario: name,
  load: "—",
  faults: "—",
  lost: undefined,
  duplicated: undefined,
  result: "FAIL",
  seconds,
  notes: [`stopped: ${problem}`]
})

/** One scenario as a row: PASS when nothing was lost or duplicated and no problem was found. */
export const runScenario = (name: ScenarioName, options: CampaignOptions): Effect.Effect<Row, never, Workspace> =>
  Effect.gen(function* () {
    const ws = yield* Workspace
    const started = yield* Clock.currentTimeMillis
    yield* Effect.logInfo(`chaos: scenario ${name} starting`)
    const exit = yield* Effect.exit(scenario(name, options))
    const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
    const row: Row =
      exit._tag === "Success"
        ? {
            scenario: name,
            load: exit.value.load,
            faults: exit.value.faults,
            lost: exit.value.lost,
            duplicated: exit.value.duplicated,
            result:
              exit.value.problems.length === 0 && (exit.value.lost ?? 0) === 0 && (exit.value.duplicated ?? 0) === 0
                ? "PASS"
                : "FAIL",
            seconds,
            notes: [...exit.value.problems.map((p) => `FAIL: ${p}`), ...exit.value.facts]
          }
        : failedRow(
            name,
            Cause.failureOption(exit.cause).pipe((f) =>
              f._tag === "Some" ? describeError(f.value) : Cause.pretty(exit.cause)
            ),
            seconds
          )
    if (row.result === "FAIL") yield* ws.markFailed
    yield* Effect.logInfo(`chaos: scenario ${name} ${row.result} in ${seconds.toFixed(0)} s`)
    return row
  })

/** Every selected scenario in turn; `onScenario` hears of each as it starts (0-based index: progress). */
export const run = (
  options: CampaignOptions,
  onScenario: (index: number, name: ScenarioName) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<ReadonlyArray<Row>, never, Workspace> =>
  Effect.forEach(options.scenarios, (name, index) =>
    Effect.zipRight(onScenario(index, name), runScenario(name, options))
  )
