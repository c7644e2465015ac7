/**
 * The campaign's options, from the environment: `CHAOS_ORDERS`, `CHAOS_CRASH_ORDERS`,
 * `CHAOS_KILLS`, `CHAOS_BAD_INPUTS`, `CHAOS_SCENARIOS`, `CHAOS_SEED`, `CHAOS_SETTLE_TIMEOUT`,
 * `CHAOS_KEEP`, `DATABASE_URL`.
 */
import { Config, ConfigError, Duration, Either, Option } from "effect"
import { randomInt } from "node:crypto"

export const scenarioNames = ["faults", "crashes", "replicas", "bad-input", "secrets"] as const
export type ScenarioName = (typeof scenarioNames)[number]

const isScenario = (s: string): s is ScenarioName => scenarioNames.some((n) => n === s)

export const defaultDatabaseUrl = "postgres://postgres@127.0.0.1:5432/test"

export interface CampaignOptions {
  readonly scenarios: ReadonlyArray<ScenarioName>
  /** Purchases in the faults and replicas scenarios. */
  readonly orders: number
  /** Purchases flowing while processes are killed. */
  readonly crashOrders: number
  readonly kills: number
  readonly badInputs: number
  /** The PostgreSQL server of the replicas scenario (a fresh schema is made and dropped). */
  readonly databaseUrl: string
  readonly seed: number
  /** How long a flow may take to reach its final states. */
  readonly settleTimeout: Duration.Duration
  readonly keep: "always" | "never" | "on-failure"
}

const positive = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: "must be a positive integer", validation: (n) => n >= 1 }),
    Config.withDefault(fallback)
  )

const scenarios = Config.string("CHAOS_SCENARIOS").pipe(
  Config.mapOrFail((raw) => {
    const names = raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
    const unknown = names.filter((n) => !isScenario(n))
    if (unknown.length > 0 || names.length === 0) {
      return Either.left(
        ConfigError.InvalidData(
          [],
          `unknown scenario(s) ${unknown.join(", ")}; choose from ${scenarioNames.join(", ")}`
        )
      )
    }
    // Campaign order, whatever the order given: secrets scans what the others logged.
    return Either.right(scenarioNames.filter((n) => names.includes(n)))
  }),
  Config.withDefault<ReadonlyArray<ScenarioName>>(scenarioNames)
)

export const CampaignConfig: Config.Config<CampaignOptions> = Config.all({
  scenarios,
  orders: positive("CHAOS_ORDERS", 1000),
  crashOrders: Config.option(
    Config.integer("CHAOS_CRASH_ORDERS").pipe(
      Config.validate({ message: "must be a positive integer", validation: (n) => n >= 1 })
    )
  ),
  kills: positive("CHAOS_KILLS", 20),
  badInputs: positive("CHAOS_BAD_INPUTS", 10_000),
  databaseUrl: Config.string("DATABASE_URL").pipe(
    Config.validate({ message: "must be a postgres:// URL", validation: (u) => /^postgres(ql)?:\/\//.test(u) }),
    Config.withDefault(defaultDatabaseUrl)
  ),
  seed: Config.integer("CHAOS_SEED").pipe(Config.withDefault(randomInt(1, 2 ** 31 - 1))),
  settleTimeout: Config.duration("CHAOS_SETTLE_TIMEOUT").pipe(Config.withDefault(Duration.minutes(4))),
  keep: Config.literal(
    "always",
    "never",
    "on-failure"
  )("CHAOS_KEEP").pipe(Config.withDefault<CampaignOptions["keep"]>("on-failure"))
}).pipe(
  Config.map(
    ({ crashOrders, ...rest }): CampaignOptions => ({
      ...rest,
      crashOrders: Option.getOrElse(crashOrders, () => Math.min(300, rest.orders))
    })
  )
)

/** One line naming the options, for the results file. */
export const describe = (o: CampaignOptions): string =>
  `CHAOS_ORDERS=${o.orders} CHAOS_CRASH_ORDERS=${o.crashOrders} CHAOS_KILLS=${o.kills} CHAOS_BAD_INPUTS=${o.badInputs} CHAOS_SEED=${o.seed} CHAOS_SCENARIOS=${o.scenarios.join(",")}`
