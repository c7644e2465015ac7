/**
 * The reconciler's own settings, validated at start-up (HLCONNECT_*, DATABASE_URL/DATA_DIR and
 * FULFILMENT_* are read by the packages that own them).
 */
import { Config, Duration } from "effect"
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"

export interface ReconcilerSettings {
  /** Orders reconciled at once (each makes at most a few HL Connect calls). */
  readonly concurrency: number
  /** How long a claimed order stays ours; renewed while we still work on it. */
  readonly lease: Duration.Duration
  /** Orders claimed per store round trip. */
  readonly batch: number
}

const positive = (name: string, fallback: number, max: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: `must be an integer between 1 and ${max}`, validation: (n) => n >= 1 && n <= max }),
    Config.withDefault(fallback)
  )

/** `RECONCILE_CONCURRENCY` (default 8), `RECONCILE_LEASE` (default 2 minutes), `RECONCILE_BATCH` (default 100). */
export const ReconcilerConfig: Config.Config<ReconcilerSettings> = Config.all({
  concurrency: positive("RECONCILE_CONCURRENCY", 8, 1000),
  lease: Config.duration("RECONCILE_LEASE").pipe(
    Config.validate({
      message: "must be between 1 second and 24 hours",
      validation: (d) => Duration.toMillis(d) >= 1000 && Duration.toMillis(d) <= 86_400_000
    }),
    Config.withDefault(Duration.minutes(2))
  ),
  batch: positive("RECONCILE_BATCH", 100, 1000)
})

/** Who holds a lease: readable in the database (host, pid) and unique per process start. */
export const makeOwnerId = (): string => `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`
