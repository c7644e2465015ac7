/**
 * The reconciler as a long-running service: passes on a cron schedule (`RECONCILE_SCHEDULE`),
 * as the `reconcile serve` command runs it and as a layer a process hosting other apps composes.
 */
import { Fulfilment, FulfilmentConfig, type FulfilmentPolicy } from "@hlconnect/fulfilment"
import type { HlConnect } from "@hlconnect/core"
import { type InvalidConfiguration, loadConfig } from "@hlconnect/service"
import { ReconcileRuns, type Store, type StorageError } from "@hlconnect/store"
import { Config, ConfigError, Cron, Effect, Either, Layer, Option } from "effect"
import { type PassOptions, Reconciler } from "./Reconciler.js"
import { makeOwnerId, ReconcilerConfig, type ReconcilerSettings } from "./ReconcilerConfig.js"
import { runOnSchedule } from "./Schedule.js"

/** The standalone default: every minute. */
export const defaultSchedule = "* * * * *"

export interface CronSchedule {
  readonly expression: string
  readonly cron: Cron.Cron
}

/** `RECONCILE_SCHEDULE`: a cron expression, 5 fields or 6 with seconds first (`*\/2 * * * * *`). */
export const ScheduleConfig = (fallback: string = defaultSchedule): Config.Config<CronSchedule> =>
  Config.string("RECONCILE_SCHEDULE").pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((expression) =>
      Either.match(Cron.parse(expression), {
        // Mapped after the default, the error has no path of its own: name the variable.
        onLeft: (error) => Either.left(ConfigError.InvalidData(["RECONCILE_SCHEDULE"], `not a cron expression: ${error.message}`)),
        onRight: (cron) => Either.right({ expression, cron })
      })
    )
  )

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
    const latest = yield* ReconcileRuns.ReconcileRuns.pipe(Effect.flatMap((runs) => runs.latest))
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
      yield* options.quietTicks === true && summary.examined === 0 ? Effect.logDebug("run finished", fields) : Effect.logInfo("run finished", fields)
    })
    const scheduleOptions = {
      quietTicks: options.quietTicks ?? false,
      ...Option.match(latest, { onNone: () => ({}), onSome: (run) => ({ lastRunAt: run.startedAt }) })
    }
    return Effect.zipRight(
      Effect.logInfo(`reconciling on schedule ${options.schedule.expression}`, { owner, concurrency }),
      runOnSchedule(options.schedule.cron, pass, scheduleOptions)
    )
  })

/** Runs the loop as a background fiber for as long as the layer's scope is open. */
export const layer = (options: ScheduledOptions): Layer.Layer<never, StorageError, Reconciler | ReconcileRuns.ReconcileRuns> =>
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
}

/** Everything `layerWith` takes, from the environment: `RECONCILE_SCHEDULE` (default `fallbackSchedule`), `RECONCILE_*`, `FULFILMENT_*`. */
export const ScheduledConfig = (fallbackSchedule: string = defaultSchedule): Config.Config<ScheduledSettings> =>
  Config.all({ schedule: ScheduleConfig(fallbackSchedule), settings: ReconcilerConfig, policy: FulfilmentConfig })

/** `layerWith` configured from the environment (`ScheduledConfig`). */
export const layerConfig = (
  fallbackSchedule: string = defaultSchedule
): Layer.Layer<Reconciler | Fulfilment, StorageError | InvalidConfiguration, Store.StoreServices | HlConnect> =>
  Layer.unwrapEffect(
    Effect.map(loadConfig(ScheduledConfig(fallbackSchedule)), ({ policy, schedule, settings }) => layerWith({ schedule, settings }, policy))
  )
