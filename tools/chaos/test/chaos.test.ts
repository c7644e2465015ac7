/**
 * The campaign, reduced to fit CI: 100 purchases under faults, 4 kills, 2,000 bad inputs, the
 * replicas on PostgreSQL when DATABASE_URL is set (under CI / REQUIRE_POSTGRES a missing
 * DATABASE_URL fails), the secret scan over all of it. Every row must PASS. `CHAOS_SEED` replays
 * a seed and `CHAOS_SCENARIOS` picks scenarios, as for `pnpm chaos`.
 * The apps run from their dist (turbo builds them before this package's tests).
 */
import { Testing } from "@hlconnect/store"
import { Duration, Effect, Logger, LogLevel } from "effect"
import { existsSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Apps from "../src/Apps.js"
import * as Campaign from "../src/Campaign.js"
import { CampaignConfig, type CampaignOptions } from "../src/CampaignConfig.js"
import * as Table from "../src/Table.js"
import * as Workspace from "../src/Workspace.js"

/** DATABASE_URL, or undefined to skip the replicas; under CI / REQUIRE_POSTGRES a missing URL fails. */
const postgresUrl = () => Testing.postgresUrl("the chaos campaign's replicas scenario")

describe("chaos campaign (reduced)", () => {
  it("faults, crashes, replicas, bad input, secrets: every row PASS", async () => {
    const databaseUrl = postgresUrl()
    for (const script of Object.values(Apps.scripts)) {
      expect(existsSync(script), `${script} is missing: pnpm turbo run build --filter=@hlconnect/chaos...`).toBe(true)
    }
    // CHAOS_SEED and CHAOS_SCENARIOS as for `pnpm chaos` (a failing seed replays; one scenario at a time).
    const fromEnv = await Effect.runPromise(CampaignConfig)
    const seed = fromEnv.seed
    const options: CampaignOptions = {
      scenarios: fromEnv.scenarios.filter((s) => s !== "replicas" || databaseUrl !== undefined),
      orders: 100,
      crashOrders: 60,
      kills: 4,
      badInputs: 2000,
      databaseUrl: databaseUrl ?? "",
      seed,
      settleTimeout: Duration.seconds(90),
      keep: "on-failure"
    }
    const rows = await Effect.runPromise(
      Campaign.run(options).pipe(
        Effect.provide(Workspace.layer({ seed, keep: options.keep })),
        Logger.withMinimumLogLevel(LogLevel.Warning)
      )
    )
    process.stderr.write(`\nchaos (seed ${seed}):\n${Table.render(rows)}\n\n${Table.renderNotes(rows)}\n`)
    expect(rows.map((r) => r.scenario)).toEqual(options.scenarios)
    expect(
      rows
        .filter((r) => r.result === "FAIL")
        .map(
          (r) => `${r.scenario}: ${r.notes.filter((n) => n.startsWith("FAIL") || n.startsWith("stopped")).join("; ")}`
        )
    ).toEqual([])
  }, 240_000)
})
