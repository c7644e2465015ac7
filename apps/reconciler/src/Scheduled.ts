/**
 * The reconciler as a long-running service: passes on a cron schedule (`RECONCILE_SCHEDULE`),
 * as the `reconcile serve` command runs it and as a layer a process hosting other apps composes.
 */
import { Fulfilment, FulfilmentConfig, type FulfilmentPolicy } from "@hlconnect/fulfilment"
import type { HlConnect } from "@hlconnect/core"
import { type InvalidConfiguration, loadConfig } from "@hlconnect/service"
import { ReconcileRuns, type Store, type StorageError } from "@hlconnect/store"
import { Clock, Config, ConfigError, Cron, Duration, Effect, Either, Layer, Option } from "effect"
import { type PassOptions, Reconciler } from "./Reconciler.js"
import { makeOwnerId, ReconcilerConfig, type ReconcilerSettings } from "./ReconcilerConfig.js"
import { runOnSchedule } from "./CronRunner.js"
import * as Retention from "./Retention.js"

/** The standalone default: every minute. */
export const defaultSchedule = "* * * * *"

export interface CronSchedule {
  readonly expression: string
  readonly cron: Cron.Cron
}

/** A cron expression from `name`, 5 fields or 6 with seconds first (`*\/2 * * * * *`). */
const cronConfig = (name: string, fallback: string): Config.Config<CronSchedule> =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((expression) =>
      Either.match(Cron.parse(expression), {
        // Mapped after the default, the error has no path of its own: name the variable.
        onLeft: (error) => Either.left(ConfigError.InvalidData([name], `not a cron expression: ${error.message}`)),
        onRight: (cron) => Either.right({ expression, cron })
      })
    )
  )

/** `RECONCILE_SCHEDULE`: a cron expression, 5 fields or 6 with seconds first (`*\/2 * * * * *`). */
export const ScheduleConfig = (fallback: string = defaultSchedule): Config.Config<CronSchedule> =>
  cronConfig("RECONCILE_SCHEDULE", fallback)

/** The audit's default cadence: hourly, on the hour. */
export const defaultAuditSchedule = "0 * * * *"

/**
 * The audit pass: ended orders are never due again, so drift after the end (a line cancelled at
 * HL Connect after it completed here) is found only by re-reading them, on a slower cadence.
 */
export interface AuditSettings {
  readonly schedule: CronSchedule
  /** Orders whose last line ended longer ago than this are not audited. */
  readonly window: Duration.Duration
  /** At most this many orders (one HL Connect call each) per audit pass. */
  readonly budget: number
}

/** `RECONCILE_AUDIT_SCHEDULE` (hourly), `RECONCILE_AUDIT_WINDOW` (30 days), `RECONCILE_AUDIT_BUDGET` (500). */
export const AuditConfig: Config.Config<AuditSettings> = Config.all({
  schedule: cronConfig("RECONCILE_AUDIT_SCHEDULE", defaultAuditSchedule),
  window: Config.duration("RECONCILE_AUDIT_WINDOW").pipe(
    Config.validate({
      message: "must be between 1 minute and 3650 days",
      validation: (d) => Duration.toMillis(d) >= 60_000 && Duration.toMillis(d) <= 3650 * 86_400_000
    }),
    Config.withDefault(Duration.days(30))
  ),
  budget: Config.integer("RECONCILE_AUDIT_BUDGET").pipe(
    Config.validate({ message: "must be an integer between 1 and 100000", validation: (n) => n >= 1 && n <= 100_000 }),
    Config.withDefault(500)
  )
})

/** The audit options of one pass started now: orders ended within the window, at most the budget. */
export const auditPassOptions = (audit: AuditSettings, now: number): NonNullable<PassOptions["audit"]> => ({
  endedSince: Math.max(0, now - Duration.toMillis(audit.window)),
  budget: audit.budget
})

export interface ScheduledOptions {
  readonly schedule: CronSchedule
  readonly settings: ReconcilerSettings
  /** Lease owner; default: host, pid and a random suffix. */
  readonly owner?: string
  readonly dryRun?: boolean
  readonly limit?: number
  /** Overrides `settings.concurrency`. */
  readonly concurrency?: number
  /** Log tick starts and passes that found nothing at Debug (schedules of a few seconds). */
  readonly quietTicks?: boolean
  /** Also run the audit pass on its own schedule. */
  readonly audit?: AuditSettings
  /** Also purge runs past retention (`Retention.loop`; not in a dry run). */
  readonly retention?: Retention.RetentionSettings
}

/**
 * The loop, ready to run: reads when the last run started (so ticks missed while down are caught
 * up once), then never returns. A failing pass is logged; the next tick runs regardless.
 */
export const prepare = (
  options: ScheduledOptions
): Effect.Effect<Effect.Effect<never>, StorageError, Reconciler | ReconcileRuns.ReconcileRuns> =>
  Effect.gen(function* () {
    const reconciler = yield* Reconciler
    // Empty passes are not stored as runs: the last start is kept apart.
    const runs = yield* ReconcileRuns.ReconcileRuns
    const lastStart = yield* runs.lastStartedAt("pass")
    const owner = options.owner ?? makeOwnerId()
    const concurrency = options.concurrency ?? options.settings.concurrency
    const passOptions: PassOptions = {
      dryRun: options.dryRun ?? false,
      concurrency,
      owner,
      batch: options.settings.batch,
      lease: options.settings.lease,
      ...(options.limit === undefined ? {} : { limit: options.limit })
    }
    const pass = Effect.gen(function* () {
      const summary = yield* reconciler.runPass(passOptions)
      const { orders: _orders, ...fields } = summary
      if (summary.status === "failed") return yield* Effect.logError("run stopped", fields)
      yield* options.quietTicks === true && summary.examined === 0
        ? Effect.logDebug("run finished", fields)
        : Effect.logInfo("run finished", fields)
    })
    const scheduleOptions = {
      quietTicks: options.quietTicks ?? false,
      ...Option.match(lastStart, { onNone: () => ({}), onSome: (lastRunAt) => ({ lastRunAt }) })
    }
    const reconcileLoop = Effect.zipRight(
      Effect.logInfo(`reconciling on schedule ${options.schedule.expression}`, { owner, concurrency }),
      runOnSchedule(options.schedule.cron, pass, scheduleOptions)
    )
    // A dry run changes nothing, old runs included.
    const retentionLoop =
      options.retention === undefined || options.dryRun === true
        ? []
        : [Effect.provideService(Retention.loop(options.retention), ReconcileRuns.ReconcileRuns, runs)]
    const audit = options.audit
    if (audit === undefined) return runAll([reconcileLoop, ...retentionLoop])
    const auditPass = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const summary = yield* reconciler.runPass({ ...passOptions, audit: auditPassOptions(audit, now) })
      const { orders: _orders, ...fields } = summary
      if (summary.status === "failed") return yield* Effect.logError("audit stopped", fields)
      yield* summary.examined === 0
        ? Effect.logDebug("audit finished", fields)
        : Effect.logInfo("audit finished", fields)
    })
    const auditLoop = Effect.zipRight(
      Effect.logInfo(`auditing ended orders on schedule ${audit.schedule.expression}`, {
        window: Duration.format(audit.window),
        budget: audit.budget
      }),
      runOnSchedule(audit.schedule.cron, auditPass, { quietTicks: options.quietTicks ?? false })
    )
    return runAll([reconcileLoop, auditLoop, ...retentionLoop])
  })

/** Loops that never end, side by side. */
const runAll = <R>(loops: ReadonlyArray<Effect.Effect<never, never, R>>): Effect.Effect<never, never, R> =>
  Effect.flatMap(Effect.all(loops, { concurrency: "unbounded", discard: true }), () => Effect.never)

/** Runs the loop as a background fiber for as long as the layer's scope is open. */
export const layer = (
  options: ScheduledOptions
): Layer.Layer<never, StorageError, Reconciler | ReconcileRuns.ReconcileRuns> =>
  Layer.scopedDiscard(Effect.flatMap(prepare(options), Effect.forkScoped))

/**
 * `layer` with the reconciler and the workflow wired; needs the store and HL Connect. The workflow
 * (`Fulfilment`) is provided onward too, so a process that also hosts the relay shares one.
 */
export const layerWith = (
  options: ScheduledOptions,
  policy: FulfilmentPolicy
): Layer.Layer<Reconciler | Fulfilment, StorageError, Store.StoreServices | HlConnect> =>
  layer(options).pipe(Layer.provideMerge(Reconciler.Default), Layer.provideMerge(Fulfilment.Default(policy)))

export interface ScheduledSettings {
  readonly schedule: CronSchedule
  readonly settings: ReconcilerSettings
  readonly policy: FulfilmentPolicy
  readonly audit: AuditSettings
  readonly retention: Retention.RetentionSettings
}

/**
 * Everything `layerWith` takes, from the environment: `RECONCILE_SCHEDULE` (default
 * `fallbackSchedule`), `RECONCILE_AUDIT_*`, `RECONCILE_RETENTION*`, `RECONCILE_*`, `FULFILMENT_*`.
 */
export const ScheduledConfig = (fallbackSchedule: string = defaultSchedule): Config.Config<ScheduledSettings> =>
  Config.all({
    schedule: ScheduleConfig(fallbackSchedule),
    settings: ReconcilerConfig,
    policy: FulfilmentConfig,
    audit: AuditConfig,
    retention: Retention.RetentionConfig
  })

/** `layerWith` configured from the environment (`ScheduledConfig`). */
export const layerConfig = (
  fallbackSchedule: string = defaultSchedule
): Layer.Layer<Reconciler | Fulfilment, StorageError | InvalidConfiguration, Store.StoreServices | HlConnect> =>
  Layer.unwrapEffect(
    Effect.map(loadConfig(ScheduledConfig(fallbackSchedule)), ({ audit, policy, retention, schedule, settings }) =>
      layerWith({ schedule, settings, audit, retention }, policy)
    )
  )
