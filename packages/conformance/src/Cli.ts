/**
 * `hlconnect-contract` (`pnpm contract`): our conformance checks against any HL Connect, with a
 * drift report. Configured like every app — `HLCONNECT_BASE_URL`, `HLCONNECT_TOKEN` — with flags
 * that override them; with neither, it checks our own sandbox, started in-process.
 *
 * Exit codes: 0 every check passed and no breaking drift; 1 a check failed or drift is breaking;
 * 2 it could not run (unreachable, bad configuration, the given token refused).
 */
import { Command, Options } from "@effect/cli"
import { CustomerIp, ProductionBaseUrl, SandboxBaseUrl } from "@hlconnect/core"
import { loadConfig } from "@hlconnect/service"
import { Config, Console, Effect, Option, Redacted, Schema } from "effect"
import { runChecks, TestOrderBase } from "./Checks.js"
import { DriftLedger } from "./Drift.js"
import { ContractCannotRun } from "./Errors.js"
import type { Target } from "./Probe.js"
import { type ContractReport, ExitCode, render, toJson, verdictOf } from "./Report.js"

/** A documentation address (TEST-NET-3) our sandbox places in DE, and the SDKs' own example. */
export const DefaultCustomerIp = "203.0.113.1"
export const DefaultMaxPages = 5

/** The environment, as every app reads it; both optional here (neither = our sandbox). */
export const ContractConfig = Config.all({
  baseUrl: Config.option(Config.url("HLCONNECT_BASE_URL")),
  token: Config.option(Config.redacted(Config.nonEmptyString("HLCONNECT_TOKEN")))
})

const MaxPages = Schema.Int.pipe(Schema.between(1, 10_000))

const setExitCode = (code: number) =>
  Effect.sync(() => {
    process.exitCode = code
  })

/** The server to check: the one configured, or our sandbox started for the run. */
const targetOf = (baseUrl: Option.Option<URL>, token: Option.Option<Redacted.Redacted<string>>, purchase: boolean) =>
  Effect.gen(function* () {
    if (Option.isNone(baseUrl) && Option.isNone(token)) {
      // Loaded only when used: a run against HL Connect does not pay for the sandbox.
      const { SandboxToken, startSandbox } = yield* Effect.promise(() => import("@hlconnect/sandbox"))
      const sandbox = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () => startSandbox(),
          catch: (cause) =>
            new ContractCannotRun({ message: `could not start the in-process sandbox: ${String(cause)}` })
        }),
        (running) => Effect.promise(() => running.close())
      )
      return { baseUrl: new URL(sandbox.url), token: Redacted.make(SandboxToken) } satisfies Target
    }
    if (Option.isNone(token)) {
      return yield* new ContractCannotRun({
        message: "no token: set HLCONNECT_TOKEN (or pass --token) for the base URL"
      })
    }
    const url = Option.getOrElse(baseUrl, () => new URL(SandboxBaseUrl))
    if (purchase && url.origin === new URL(ProductionBaseUrl).origin) {
      return yield* new ContractCannotRun({ message: "--purchase registers a test order: refused against production" })
    }
    return { baseUrl: url, token: token.value } satisfies Target
  })

const contract = Command.make(
  "hlconnect-contract",
  {
    baseUrl: Options.text("base-url").pipe(
      Options.withSchema(Schema.URL),
      Options.withDescription(
        `HL Connect to check (overrides HLCONNECT_BASE_URL; HL Connect's sandbox is ${SandboxBaseUrl})`
      ),
      Options.optional
    ),
    token: Options.redacted("token").pipe(
      Options.withDescription(
        "Bearer token (overrides HLCONNECT_TOKEN; prefer the environment variable: a flag shows in `ps`)"
      ),
      Options.optional
    ),
    maxPages: Options.integer("max-pages").pipe(
      Options.withSchema(MaxPages),
      Options.withDescription(`Catalog pages to read and decode (default ${DefaultMaxPages})`),
      Options.withDefault(DefaultMaxPages)
    ),
    customerIp: Options.text("customer-ip").pipe(
      Options.withSchema(CustomerIp),
      Options.withDescription(
        `The buyer's IP sent to validation (default ${DefaultCustomerIp}, a documentation address)`
      ),
      Options.withDefault(DefaultCustomerIp)
    ),
    purchase: Options.boolean("purchase").pipe(
      Options.withDescription(
        `Also register a test order (number ${TestOrderBase} + UNIX seconds), poll it, fetch its URLs (never printed) and cancel it`
      )
    ),
    json: Options.boolean("json").pipe(Options.withDescription("Print the report as JSON (for CI)"))
  },
  (args) =>
    Effect.gen(function* () {
      const say = (line: string) => (args.json ? Console.error(line) : Console.log(line))
      // The URL the run was aimed at, for a report of a run that could not run.
      let aimedAt = Option.match(args.baseUrl, { onNone: () => "(not configured)", onSome: (url) => url.href })
      const outcome: ContractReport = yield* Effect.scoped(
        Effect.gen(function* () {
          const env = yield* loadConfig(ContractConfig).pipe(
            Effect.mapError((invalid) => new ContractCannotRun({ message: invalid.message }))
          )
          const baseUrl = Option.orElse(args.baseUrl, () => env.baseUrl)
          const token = Option.orElse(args.token, () => env.token)
          aimedAt = Option.match(baseUrl, {
            onNone: () => (Option.isNone(token) ? "(in-process sandbox)" : new URL(SandboxBaseUrl).href),
            onSome: (url) => url.href
          })
          const target = yield* targetOf(baseUrl, token, args.purchase)
          const ledger = new DriftLedger()
          const checks = yield* runChecks(
            target,
            ledger,
            { maxPages: args.maxPages, customerIp: args.customerIp, purchase: args.purchase },
            say
          )
          const drift = ledger.report()
          const environments = ledger.environmentsSeen
          const report: ContractReport = {
            baseUrl: target.baseUrl.href,
            environment: environments.length === 0 ? null : environments.join(", "),
            checks,
            drift,
            verdict: verdictOf(checks, drift)
          }
          return report
        })
      ).pipe(
        Effect.catchTag("ContractCannotRun", (error) =>
          Effect.succeed<ContractReport>({
            baseUrl: aimedAt,
            environment: null,
            checks: [],
            drift: [],
            verdict: "cannot-run",
            error: error.message
          })
        )
      )
      if (outcome.error !== undefined) yield* Console.error(`hlconnect-contract: could not run: ${outcome.error}`)
      yield* args.json ? Console.log(toJson(outcome)) : Console.log(render(outcome))
      yield* setExitCode(ExitCode[outcome.verdict])
    })
).pipe(
  Command.withDescription(
    "Run the conformance checks against an HL Connect (HLCONNECT_BASE_URL, HLCONNECT_TOKEN; neither: our sandbox, in-process) " +
      "and report drift from our models. Read-only unless --purchase. Exit 0 pass, 1 a failed check or breaking drift, 2 could not run."
  )
)

export const cli = Command.run(contract, { name: "hlconnect-contract", version: "0.0.0" })

/** Exit 2 for anything that stopped the run before a report: invalid flags included. */
export const cannotRun = setExitCode(ExitCode["cannot-run"])
