/**
 * Payload retention (Svix keeps 90 days): every `RELAY_RETENTION_INTERVAL`, inbox events that
 * were processed or dead-lettered, and deliveries that were delivered or dead-lettered (held ones
 * of disabled subscribers included), more than `RELAY_RETENTION` ago are deleted; then the
 * outbound events none of whose deliveries is left. Pending work is never touched, nor are the
 * per-order sequence numbers. Deletes go in batches, each its own short transaction (SQLite has
 * one writer), until a batch comes back short. Replicas purging at once is safe: a row is deleted
 * once, by whichever gets it. Counted in `relay_purged_total{kind}`.
 * Time is Effect's `Clock` throughout, so tests drive it with `TestClock`.
 */
import { Inbox, type InvalidInput, Outbox, type StorageError } from "@hlconnect/store"
import { Clock, Duration, Effect, Metric, type Scope } from "effect"
import type { RelayConfig } from "./RelayConfig.js"
import * as RelayMetrics from "./RelayMetrics.js"

/** Rows per delete statement. */
export const batchSize = 1000

export interface Purged {
  readonly inbox: number
  readonly deliveries: number
  readonly events: number
}

export interface Retention {
  /** Delete everything past retention, batch after batch, and count it. */
  readonly purgeOnce: Effect.Effect<Purged, InvalidInput | StorageError>
  /** `purgeOnce` every `retentionInterval`, forever; a failure is logged and tried again next interval. */
  readonly run: Effect.Effect<never, never, Scope.Scope>
}

const purgedOf = (kind: "inbox" | "delivery" | "event", n: number) =>
  Metric.incrementBy(Metric.tagged(RelayMetrics.purged, "kind", kind), n)

export const make = (config: RelayConfig): Effect.Effect<Retention, never, Inbox.Inbox | Outbox.Outbox> =>
  Effect.gen(function* () {
    const inbox = yield* Inbox.Inbox
    const outbox = yield* Outbox.Outbox

    const purgeOnce = Effect.gen(function* () {
      // Nothing is older than the epoch (a TestClock starts there).
      const before = Math.max(0, (yield* Clock.currentTimeMillis) - Duration.toMillis(config.retention))
      const total = { inbox: 0, deliveries: 0, events: 0 }
      // Counted batch by batch, so what was deleted before a failure is counted too.
      for (;;) {
        const n = yield* inbox.purgeEnded({ before, limit: batchSize })
        total.inbox += n
        yield* purgedOf("inbox", n)
        if (n < batchSize) break
      }
      for (;;) {
        const n = yield* outbox.purgeEnded({ before, limit: batchSize })
        total.deliveries += n.deliveries
        total.events += n.events
        yield* purgedOf("delivery", n.deliveries)
        yield* purgedOf("event", n.events)
        if (n.deliveries < batchSize && n.events < batchSize) break
      }
      if (total.inbox + total.deliveries + total.events > 0) {
        yield* Effect.logInfo("retention: purged what ended before the cutoff", {
          ...total,
          endedBefore: new Date(before).toISOString(),
          retention: Duration.format(config.retention)
        })
      }
      return total
    })

    const run: Effect.Effect<never, never, Scope.Scope> = purgeOnce.pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("retention purge failed; trying again next interval", cause)),
      Effect.zipRight(Effect.sleep(config.retentionInterval)),
      Effect.forever
    )

    return { purgeOnce, run }
  })
