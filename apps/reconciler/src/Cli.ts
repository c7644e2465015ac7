/**
 * `reconcile run --once | --schedule "<cron>" [--dry-run] [--order <n>] [--limit <n>] [--concurrency <n>] [--json]`
 * `reconcile serve` (the service: on `RECONCILE_SCHEDULE`, configured by the environment only)
 * `reconcile run --once --audit [--dry-run] [--json]` (one audit pass over recently ended orders)
 * `reconcile report [--run <id> | --runs <n> | --audit] [--json]` (default: the latest run that did work)
 *
 * Exit codes (`run --once`): 0 clean; 2 something needs attention, failed or could not be
 * reconciled; 3 the run was stopped (HL Connect refused our token, wrong environment);
 * 1 invalid configuration or an unexpected failure.
 */
import { Command, Options } from "@effect/cli"
import * as HttpServer from "@effect/platform/HttpServer"
import { HlConnect } from "@hlconnect/core"
import { Fulfilment, FulfilmentConfig, type FulfilmentPolicy } from "@hlconnect/fulfilment"
import {
  Health,
  HttpServing,
  type InvalidConfiguration,
  loadConfig,
  OpsRoutes,
  Progress,
  ServiceConfig
} from "@hlconnect/service"
import { ReconcileRuns, Store } from "@hlconnect/store"
import { Clock, ConfigError, Console, Data, Effect, Layer, Option, Ref } from "effect"
import { isClean, type PassCounts, type PassOptions, type PassSummary, Reconciler } from "./Reconciler.js"
import { makeOwnerId, ReconcilerConfig } from "./ReconcilerConfig.js"
import { progressLine, renderRun, renderRunLines, renderSummary, runFieldsToJson, runToJson } from "./Report.js"
import { parseCron } from "./CronRunner.js"
import * as Retention from "./Retention.js"
import * as Scheduled from "./Scheduled.js"

export const ExitCode = { clean: 0, unexpected: 1, notClean: 2, halted: 3 } as const

export class InvalidArguments extends Data.TaggedError("InvalidArguments")<{ readonly message: string }> {}

const asInvalidConfiguration = <E>(error: E | ConfigError.ConfigError): E | InvalidConfiguration =>
  ConfigError.isConfigError(error) ? ServiceConfig.fromConfigError(error) : error

/** The store chosen by DATABASE_URL / DATA_DIR. */
export const storeLayer = Store.layer.pipe(Layer.mapError(asInvalidConfiguration))

/** Reconciler + workflow + store + HL Connect client (HLCONNECT_*). */
export const appLayer = (policy: FulfilmentPolicy) =>
  Reconciler.Default.pipe(
    Layer.provideMerge(Fulfilment.Default(policy)),
    Layer.provideMerge(storeLayer),
    Layer.provide(HlConnect.layerConfig().pipe(Layer.mapError(asInvalidConfiguration)))
  )

/** `/health/live`, `/health/ready`, `/metrics` on PORT (default 4030) while scheduled. */
const opsLayer = HttpServer.serve(OpsRoutes.router).pipe(
  Layer.provide(Health.Health.Default),
  Layer.provide(HttpServing.serverLayerFromConfig(4030))
)

const setExitCode = (code: number) =>
  Effect.sync(() => {
    process.exitCode = code
  })

const exitCodeOf = (summary: PassSummary): number =>
  summary.status === "failed" ? ExitCode.halted : isClean(summary) ? ExitCode.clean : ExitCode.notClean

/**
 * On a terminal (stderr is a TTY): one progress line on stderr, redrawn in place while the pass
 * works (Progress.during). stdout carries only the result, so `--json` output piped or redirected
 * is byte for byte what it is without a terminal; stderr piped or redirected: no progress at all.
 */
const withProgress = <A, E, R>(
  kind: ReconcileRuns.RunKind,
  run: (callbacks: Pick<PassOptions, "onProgress" | "onTotal">) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function* () {
    if (process.stderr.isTTY !== true) return yield* run({})
    const latest = yield* Ref.make<{ readonly counts: PassCounts | undefined; readonly total: number | undefined }>({
      counts: undefined,
      total: undefined
    })
    const render = (elapsedMs: number) =>
      Effect.map(Ref.get(latest), ({ counts, total }) =>
        progressLine(kind, counts ?? { examined: 0, changed: 0, drift: 0, errors: 0 }, total, elapsedMs)
      )
    return yield* Progress.during(
      process.stderr,
      render,
      run({
        onProgress: (counts) => Ref.update(latest, (s) => ({ ...s, counts })),
        onTotal: (total) => Ref.update(latest, (s) => ({ ...s, total }))
      })
    )
  })

const positive = (name: string, value: Option.Option<number>) =>
  Option.match(value, {
    onNone: () => Effect.succeed(undefined),
    onSome: (n) =>
      Number.isInteger(n) && n >= 1
        ? Effect.succeed(n)
        : Effect.fail(new InvalidArguments({ message: `--${name} must be an integer ≥ 1` }))
  })

const run = Command.make(
  "run",
  {
    once: Options.boolean("once").pipe(
      Options.withDescription("One pass, then exit (0 clean, 2 needs attention, 3 stopped)")
    ),
    schedule: Options.text("schedule").pipe(
      Options.withDescription('Cron expression, e.g. "*/5 * * * *"'),
      Options.optional
    ),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Report what would be done; change nothing")),
    order: Options.text("order").pipe(
      Options.withDescription("Reconcile this order only, due or not"),
      Options.optional
    ),
    limit: Options.integer("limit").pipe(
      Options.withDescription("At most this many orders per pass"),
      Options.optional
    ),
    concurrency: Options.integer("concurrency").pipe(
      Options.withDescription("Orders at once (default RECONCILE_CONCURRENCY)"),
      Options.optional
    ),
    json: Options.boolean("json").pipe(Options.withDescription("Print the summary as JSON")),
    listOrders: Options.boolean("list-orders").pipe(
      Options.withDescription("Include the examined order numbers in the JSON summary")
    ),
    audit: Options.boolean("audit").pipe(
      Options.withDescription(
        "With --once: an audit pass (orders ended within RECONCILE_AUDIT_WINDOW, at most RECONCILE_AUDIT_BUDGET)"
      )
    )
  },
  (args) =>
    Effect.gen(function* () {
      if (args.once && Option.isSome(args.schedule)) {
        return yield* new InvalidArguments({ message: "--once and --schedule exclude each other" })
      }
      if (args.audit && (!args.once || Option.isSome(args.order))) {
        return yield* new InvalidArguments({ message: "--audit goes with --once and without --order" })
      }
      const settings = yield* loadConfig(ReconcilerConfig)
      const audit = args.audit ? Option.some(yield* loadConfig(Scheduled.AuditConfig)) : Option.none()
      // A schedule is a service: it keeps its runs within RECONCILE_RETENTION too.
      const retention = Option.isSome(args.schedule) ? yield* loadConfig(Retention.RetentionConfig) : undefined
      const startedAt = yield* Clock.currentTimeMillis
      const policy = yield* loadConfig(FulfilmentConfig)
      const limit = yield* positive("limit", args.limit)
      const concurrency = (yield* positive("concurrency", args.concurrency)) ?? settings.concurrency
      const cron = Option.isSome(args.schedule)
        ? Option.some({ expression: args.schedule.value, cron: yield* parseCron(args.schedule.value) })
        : Option.none()
      const owner = makeOwnerId()
      const passOptions = (callbacks: Pick<PassOptions, "onProgress" | "onTotal">): PassOptions => ({
        dryRun: args.dryRun,
        concurrency,
        owner,
        batch: settings.batch,
        lease: settings.lease,
        listOrders: args.listOrders,
        ...(Option.isSome(args.order) ? { order: args.order.value } : {}),
        ...(limit === undefined ? {} : { limit }),
        ...callbacks,
        ...Option.match(audit, {
          onNone: () => ({}),
          onSome: (a) => ({ audit: Scheduled.auditPassOptions(a, startedAt) })
        })
      })

      const program = Effect.gen(function* () {
        const reconciler = yield* Reconciler
        if (Option.isNone(cron)) {
          const summary = yield* withProgress(args.audit ? "audit" : "pass", (callbacks) =>
            reconciler.runPass(passOptions(callbacks))
          )
          yield* process.stdout.isTTY === true && !args.json
            ? Console.log(renderSummary(summary))
            : Console.log(JSON.stringify(summary))
          return yield* setExitCode(exitCodeOf(summary))
        }
        const loop = yield* Scheduled.prepare({
          schedule: cron.value,
          settings,
          owner,
          concurrency,
          dryRun: args.dryRun,
          ...(limit === undefined ? {} : { limit }),
          ...(retention === undefined ? {} : { retention })
        })
        return yield* loop.pipe(Effect.provide(opsLayer))
      })
      return yield* Effect.provide(program, appLayer(policy))
    })
).pipe(Command.withDescription("Drive every due order toward its end state and repair drift"))

const serve = Command.make("serve", {}, () =>
  Effect.gen(function* () {
    const { audit, policy, retention, schedule, settings } = yield* loadConfig(Scheduled.ScheduledConfig())
    const program = Effect.flatMap(Scheduled.prepare({ schedule, settings, audit, retention }), (loop) =>
      Effect.provide(loop, opsLayer)
    )
    return yield* Effect.provide(program, appLayer(policy))
  })
).pipe(
  Command.withDescription(
    `Reconcile on RECONCILE_SCHEDULE (default "${Scheduled.defaultSchedule}") and audit ended orders on RECONCILE_AUDIT_SCHEDULE (default "${Scheduled.defaultAuditSchedule}"), purging runs past RECONCILE_RETENTION, until stopped; /health/*, /metrics on PORT (4030)`
  )
)

const report = Command.make(
  "report",
  {
    run: Options.text("run").pipe(
      Options.withDescription("Run id (default: the latest run that did work)"),
      Options.optional
    ),
    runs: Options.integer("runs").pipe(
      Options.withDescription("List the last N runs, one line each (N ≤ 500)"),
      Options.optional
    ),
    audit: Options.boolean("audit").pipe(
      Options.withDescription("The latest audit pass that did work (RECONCILE_AUDIT_SCHEDULE)")
    ),
    json: Options.boolean("json").pipe(Options.withDescription("Print as JSON"))
  },
  (args) =>
    Effect.gen(function* () {
      const runs = yield* ReconcileRuns.ReconcileRuns
      if (Option.isSome(args.runs)) {
        if (Option.isSome(args.run) || args.audit)
          return yield* new InvalidArguments({ message: "--runs excludes --run and --audit" })
        const n = args.runs.value
        if (!Number.isInteger(n) || n < 1 || n > 500)
          return yield* new InvalidArguments({ message: "--runs must be an integer between 1 and 500" })
        const listed = yield* runs.listRuns(n)
        if (listed.length === 0) {
          yield* Console.error("no reconcile run recorded yet")
          return yield* setExitCode(ExitCode.notClean)
        }
        return yield* args.json || process.stdout.isTTY !== true
          ? Console.log(JSON.stringify(listed.map(runFieldsToJson)))
          : Console.log(renderRunLines(listed))
      }
      const found = Option.isSome(args.run)
        ? Option.some(yield* runs.get(args.run.value))
        : yield* runs.latestWithWork(args.audit ? "audit" : "pass")
      if (Option.isNone(found)) {
        yield* Console.error("no reconcile run recorded yet")
        return yield* setExitCode(ExitCode.notClean)
      }
      const drifts = yield* runs.driftsOf(found.value.runId)
      yield* args.json || process.stdout.isTTY !== true
        ? Console.log(JSON.stringify(runToJson(found.value, drifts)))
        : Console.log(renderRun(found.value, drifts))
    }).pipe(Effect.provide(storeLayer))
).pipe(Command.withDescription("Print a past run with its drift records"))

export const command = Command.make("reconcile").pipe(Command.withSubcommands([run, serve, report]))

export const cli = Command.run(command, { name: "reconcile", version: "0.0.0" })
