/**
 * One reconcile pass: claim due orders batch after batch (store leases, so replicas never share an
 * order), bring each in line with HL Connect through the fulfilment workflow, record drift, and
 * give the order back with its next check. Memory stays flat: only the current batch is held.
 */
import {
  Fulfilment,
  type FulfilmentError,
  type FulfilmentHalted,
  type LineReport,
  type OrderReport
} from "@hlconnect/fulfilment"
import type { InvalidInput, Lease } from "@hlconnect/store"
import { OrderLines, ReconcileRuns, type StorageError } from "@hlconnect/store"
import { Clock, Data, Duration, Effect, Fiber, Metric, Option, Schedule } from "effect"
import * as Metrics from "./Metrics.js"

export interface PassOptions {
  /** Decide and report, change no order line and call nothing that changes HL Connect. */
  readonly dryRun: boolean
  /** Reconcile this order only, due or not (terminal lines included: a drift check). */
  readonly order?: string
  /** At most this many orders this pass. */
  readonly limit?: number
  readonly concurrency: number
  /** Lease owner (host, pid, random). */
  readonly owner: string
  /** Orders claimed per round trip (default 100). */
  readonly batch?: number
  /** Lease per order (default 2 minutes); renewed while the order waits or is worked on. */
  readonly lease?: Duration.DurationInput
  /** Keep the examined order numbers in the summary (tests, small runs). */
  readonly listOrders?: boolean
  /**
   * An audit pass instead of a reconcile of due orders: re-read the orders whose lines all ended
   * (completed, cancelled, failed) at or after `endedSince`, least recently audited first, at most
   * `budget` of them (one HL Connect `purchaseInfo` each), and judge them like any order.
   */
  readonly audit?: { readonly endedSince: number; readonly budget: number }
  /** Called after each order with the running counts (progress display). */
  readonly onProgress?: (counts: PassCounts) => Effect.Effect<void>
  /**
   * Called once, before the first order, with how many orders the pass expects (progress display):
   * the due orders not leased elsewhere (capped by `limit`), the audit's candidates, or 1 for `order`.
   */
  readonly onTotal?: (total: number) => Effect.Effect<void>
}

export interface PassCounts {
  readonly examined: number
  /** Orders with at least one line that changed state. */
  readonly changed: number
  readonly drift: number
  /** Orders that could not be reconciled this time (HL Connect unreadable, store errors). */
  readonly errors: number
  /** Lines moved to `needs_attention` this pass. */
  readonly needsAttention: number
  /** Lines moved to `failed` this pass. */
  readonly failed: number
}

export interface PassSummary extends PassCounts {
  readonly runId: string
  readonly kind: ReconcileRuns.RunKind
  /** False for a pass that examined nothing: counted in `reconcile_empty_runs_total`, not stored. */
  readonly stored: boolean
  readonly status: "completed" | "failed"
  readonly dryRun: boolean
  /** "from→to" per line transition (dry run: "would Register" etc.). */
  readonly transitions: Readonly<Record<string, number>>
  readonly error?: string
  readonly startedAt: number
  readonly durationMs: number
  readonly orders?: ReadonlyArray<string>
}

/** `--order` named an order the store does not have. */
export class OrderNotStored extends Data.TaggedError("OrderNotStored")<{ readonly orderNumber: string }> {
  override get message() {
    return `order ${this.orderNumber} is not in the store`
  }
}

export type PassError = StorageError | InvalidInput | OrderNotStored

/** Whether a pass leaves nothing for a human or a retry: the basis of the CLI's exit code. */
export const isClean = (summary: PassSummary): boolean =>
  summary.status === "completed" && summary.errors === 0 && summary.needsAttention === 0 && summary.failed === 0

/**
 * A clock stopped at `at` (sleeps stay real). Claims run on it so a pass only takes orders that
 * were due when it started: work it schedules for "now" waits for the next pass instead of
 * looping within this one.
 */
const clockAt = (base: Clock.Clock, at: number): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => at,
  currentTimeMillis: Effect.succeed(at),
  unsafeCurrentTimeNanos: () => BigInt(at) * 1_000_000n,
  currentTimeNanos: Effect.succeed(BigInt(at) * 1_000_000n),
  sleep: (duration) => base.sleep(duration)
})

/** The state a line reached, if the outcome is a state change. */
const reachedState = (line: LineReport): string | undefined => {
  switch (line.outcome._tag) {
    case "Registered":
      return "registered"
    case "Cancelled":
      return "cancelled"
    case "Transitioned":
      return line.outcome.to
    case "NeedsAttention":
      return "needs_attention"
    default:
      return undefined
  }
}

const describeResult = (line: LineReport, dryRun: boolean): string => {
  if (dryRun) return `dry run: would ${line.action}, not applied`
  switch (line.outcome._tag) {
    case "NeedsAttention":
      return `flagged needs_attention: ${line.outcome.reason}`
    case "Transitioned":
      return `repaired: now ${line.outcome.to}`
    case "Skipped":
      return `skipped: changed concurrently (was ${line.outcome.state})`
    case "RetryLater":
      return `retry later: ${line.outcome.error}`
    default:
      return line.outcome._tag
  }
}

export class Reconciler extends Effect.Service<Reconciler>()("@hlconnect/reconciler/Reconciler", {
  effect: Effect.gen(function* () {
    const fulfilment = yield* Fulfilment
    const lines = yield* OrderLines.OrderLines
    const runs = yield* ReconcileRuns.ReconcileRuns

    const runPass = (options: PassOptions): Effect.Effect<PassSummary, PassError> =>
      Effect.gen(function* () {
        const startedAt = yield* Clock.currentTimeMillis
        const kind: ReconcileRuns.RunKind = options.audit === undefined ? "pass" : "audit"
        const run = yield* runs.startKind(kind)
        const dryRun = options.dryRun
        const leaseMs = Duration.toMillis(Duration.decode(options.lease ?? Duration.minutes(2)))
        const batch = Math.min(1000, Math.max(1, options.batch ?? 100))
        const limit = options.limit ?? Number.POSITIVE_INFINITY
        const counts = { examined: 0, changed: 0, drift: 0, errors: 0, needsAttention: 0, failed: 0 }
        const transitions: Record<string, number> = {}
        const examinedOrders: Array<string> = []
        /** Claimed and not yet released: renewed in the background, released if the pass stops. */
        const held = new Map<string, Lease>()

        const bump = (key: string) => {
          transitions[key] = (transitions[key] ?? 0) + 1
        }

        const recordDrifts = (report: OrderReport) =>
          Effect.forEach(
            report.lines.filter((line) => line.drift !== undefined),
            (line) =>
              runs.recordDrift({
                runId: run.runId,
                orderNumber: report.orderNumber,
                orderLineId: line.orderLineId,
                expected: line.drift?.expected ?? null,
                observed: line.drift?.observed ?? null,
                action: dryRun ? `would ${line.action}` : line.action,
                result: describeResult(line, dryRun).slice(0, 2000)
              }),
            { discard: true }
          )

        const tally = (report: OrderReport) =>
          Effect.gen(function* () {
            let changed = false
            let error = report.remote === "Unreadable"
            for (const line of report.lines) {
              if (line.drift !== undefined) counts.drift++
              if (dryRun) {
                if (line.action !== "Nothing" && line.action !== "Wait") bump(`would ${line.action}`)
                continue
              }
              const to = reachedState(line)
              if (to !== undefined) {
                changed = true
                bump(`${line.from}→${to}`)
                yield* Metric.increment(Metric.tagged(Metrics.transitions, "transition", `${line.from}→${to}`))
                if (to === "needs_attention") counts.needsAttention++
                if (to === "failed") counts.failed++
              }
              if (line.outcome._tag === "RetryLater") error = true
            }
            counts.examined++
            if (changed) counts.changed++
            if (error) counts.errors++
            if (options.listOrders === true) examinedOrders.push(report.orderNumber)
            yield* Metric.increment(Metrics.ordersExamined)
            const drifted = report.lines.filter((line) => line.drift !== undefined).length
            if (drifted > 0) yield* Metric.incrementBy(Metrics.drift, drifted)
            if (error) yield* Metric.increment(Metrics.errors)
          })

        /** `nextCheckAt` omitted: the store's earliest next check of the unfinished lines. */
        const release = (lease: Lease, nextCheckAt?: number) =>
          Effect.suspend(() => {
            held.delete(lease.itemId)
            return lines.releaseOrder(lease, nextCheckAt === undefined ? {} : { nextCheckAt })
          }).pipe(
            Effect.catchAll((error) =>
              Effect.logWarning(`could not release order ${lease.itemId}: ${error.message}`).pipe(
                Effect.annotateLogs({ orderNumber: lease.itemId })
              )
            )
          )

        /**
         * A line left as it was (dry run, nothing to do, changed by someone else) keeps a next check
         * that may be before this pass started: released as is, the order would be claimed again by
         * this very pass, over and over. Such an order is handed back due just after the pass start:
         * due for the next pass, not this one.
         */
        const staysDue = (report: OrderReport, orderLines: ReadonlyArray<OrderLines.OrderLine>): boolean =>
          // A dry run leaves every claimed (so due) order due, terminal lines' drift checks included.
          dryRun ||
          orderLines.some((line) => {
            const outcome = report.lines.find((l) => l.orderLineId === line.orderLineId)?.outcome._tag
            const untouched = outcome === undefined || outcome === "Unchanged" || outcome === "Skipped"
            return (
              untouched &&
              !OrderLines.terminalStates.includes(line.state) &&
              Option.exists(line.nextCheckAt, (at) => at <= startedAt)
            )
          })

        /** One order; a failure other than a halt is counted and the pass goes on. */
        const reconcileOne = (orderLines: ReadonlyArray<OrderLines.OrderLine>, lease: Option.Option<Lease>) => {
          let nextCheckAt: number | undefined
          return fulfilment.reconcileOrder(orderLines, { dryRun }).pipe(
            Effect.tap((report) =>
              Effect.sync(() => {
                if (staysDue(report, orderLines)) nextCheckAt = startedAt + 1
              })
            ),
            Effect.tap(recordDrifts),
            Effect.flatMap(tally),
            Effect.catchIf(
              (error: FulfilmentError): error is Exclude<FulfilmentError, FulfilmentHalted> =>
                error._tag !== "FulfilmentHalted",
              (error) =>
                Effect.logError(
                  `order ${orderLines[0]?.orderNumber ?? "?"} could not be reconciled: ${error.message}`
                ).pipe(
                  Effect.zipRight(
                    Effect.sync(() => {
                      counts.examined++
                      counts.errors++
                      nextCheckAt = startedAt + 1
                    })
                  )
                )
            ),
            Effect.ensuring(
              Option.match(lease, {
                onNone: () => Effect.void,
                onSome: (l) => Effect.suspend(() => release(l, nextCheckAt))
              })
            ),
            Effect.tap(() => (options.onProgress === undefined ? Effect.void : options.onProgress({ ...counts })))
          )
        }

        /** Keeps the leases of orders still queued or in progress alive. */
        const renewHeld = Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          for (const lease of Array.from(held.values())) {
            if (lease.expiresAt - now > leaseMs / 2) continue
            const renewed = yield* lines.renewOrderLease(lease, leaseMs).pipe(Effect.option)
            if (Option.isSome(renewed) && held.has(lease.itemId)) held.set(lease.itemId, renewed.value)
          }
        })

        /** The expected total, for a progress display only. */
        const announce = (total: number) => (options.onTotal === undefined ? Effect.void : options.onTotal(total))

        const claimAll = Effect.gen(function* () {
          const base = yield* Effect.clock
          if (options.onTotal !== undefined) {
            const due = yield* lines.countDueOrders(startedAt)
            yield* announce(Math.min(due, limit))
          }
          let claimed = 0
          let exhausted = false
          /** The batch being worked through; `taken` of its orders have gone to a worker. */
          let queue: ReadonlyArray<OrderLines.OrderClaim> = []
          let taken = 0
          const claiming = yield* Effect.makeSemaphore(1)
          /** Claims the next batch into `queue` (an empty one when no due order is left). */
          const claimBatch = Effect.gen(function* () {
            const size = Math.min(batch, limit - claimed)
            if (exhausted || size <= 0) {
              exhausted = true
              return
            }
            const now = yield* Clock.currentTimeMillis
            // Due as of the pass start; the lease still runs `leaseMs` from now.
            const claims = yield* lines
              .claimDueOrders({ owner: options.owner, limit: size, leaseMs: leaseMs + (now - startedAt) })
              .pipe(Effect.withClock(clockAt(base, startedAt)))
            claimed += claims.length
            yield* Effect.logDebug("claimed", { orders: claims.map((c) => c.lease.itemId), passStart: startedAt, now })
            if (claims.length < size) exhausted = true
            for (const claim of claims) held.set(claim.lease.itemId, claim.lease)
            queue = claims
            taken = 0
          })
          const takeQueued = (): Option.Option<OrderLines.OrderClaim> =>
            taken < queue.length ? Option.fromNullable(queue[taken++]) : Option.none()
          /**
           * The next claimed order for a worker. The worker that finds the batch used up claims the
           * next one while the others go on with their orders (no slot waits for a whole batch to
           * finish); a worker arriving meanwhile waits for that claim rather than making another.
           */
          const take = Effect.suspend(() => {
            const queued = takeQueued()
            if (Option.isSome(queued)) return Effect.succeed(queued)
            return claiming.withPermits(1)(
              Effect.suspend(() => {
                const refilled = takeQueued()
                if (Option.isSome(refilled) || exhausted) return Effect.succeed(refilled)
                return Effect.map(claimBatch, takeQueued)
              })
            )
          })
          /** Takes orders one after another until none is left (or the pass stops). */
          const worker = Effect.gen(function* () {
            for (;;) {
              const claim = yield* take
              if (Option.isNone(claim)) return
              yield* reconcileOne(claim.value.lines, Option.some(claim.value.lease))
            }
          })
          // C workers rather than a stream of claims: the same C orders in flight, without the
          // stream's cost per order (flattened chunks through a concurrent mapEffect: ~450 µs CPU
          // per element, measured, against ~10 µs for C plain fibers). At L = 100 ms that CPU
          // is latency: the event loop busy with it delays the answers of the calls in flight.
          yield* Effect.replicateEffect(worker, Math.max(1, options.concurrency), {
            concurrency: "unbounded",
            discard: true
          })
        })

        const one = (orderNumber: string) =>
          Effect.gen(function* () {
            const order = yield* lines.findOrder(orderNumber)
            if (Option.isNone(order)) return yield* new OrderNotStored({ orderNumber })
            yield* reconcileOne(order.value.lines, Option.none())
          })

        /** The audit: ended orders, read without a lease (as `--order` does), then sent to the back of the queue. */
        const auditAll = (audit: NonNullable<PassOptions["audit"]>) =>
          Effect.gen(function* () {
            const candidates = yield* lines.listAuditCandidates({ endedSince: audit.endedSince, limit: audit.budget })
            yield* announce(candidates.length)
            yield* Effect.forEach(
              candidates,
              (orderNumber) =>
                Effect.gen(function* () {
                  const order = yield* lines.findOrder(orderNumber)
                  if (Option.isNone(order)) return
                  yield* reconcileOne(order.value.lines, Option.none())
                  if (!dryRun) yield* lines.markAudited(orderNumber)
                }),
              { concurrency: options.concurrency, discard: true }
            )
          })

        const renewer = yield* Effect.fork(
          Effect.repeat(renewHeld, Schedule.spaced(Duration.millis(Math.max(100, leaseMs / 4))))
        )
        const result = yield* (
          options.order !== undefined
            ? one(options.order)
            : options.audit !== undefined
              ? auditAll(options.audit)
              : claimAll
        ).pipe(
          Effect.ensuring(Fiber.interrupt(renewer)),
          // Orders claimed but never reached (the pass stopped): give them back now, not at lease expiry.
          Effect.ensuring(
            Effect.suspend(() =>
              Effect.forEach(Array.from(held.values()), (lease) => release(lease), { discard: true })
            )
          ),
          Effect.either
        )
        const failure = result._tag === "Left" ? result.left : undefined
        const error = failure?.message
        const status = failure === undefined ? "completed" : "failed"
        // A pass that examined nothing is counted, not stored: it would bury the runs that did work.
        const stored =
          failure !== undefined ||
          counts.examined > 0 ||
          !(yield* runs.discardEmpty(run.runId).pipe(Effect.catchTag("InvalidInput", Effect.die)))
        if (stored) {
          yield* runs
            .finish({
              runId: run.runId,
              status,
              examined: counts.examined,
              drifted: counts.drift,
              repaired: counts.changed,
              failed: counts.errors + counts.needsAttention + counts.failed,
              ...(error === undefined ? {} : { error: error.slice(0, 4000) })
            })
            .pipe(Effect.catchTags({ NotFound: Effect.die, IllegalTransition: Effect.die }))
        } else {
          yield* Metric.increment(Metrics.emptyRuns)
        }
        yield* Metric.increment(Metric.tagged(Metrics.runs, "status", status))
        if (failure !== undefined) {
          // A halt (401, wrong environment) is the run's result; anything else is the caller's problem.
          if (failure._tag !== "FulfilmentHalted") return yield* Effect.fail(failure)
          yield* Effect.logError(`run stopped: ${failure.message}`)
        }
        const endedAt = yield* Clock.currentTimeMillis
        const summary: PassSummary = {
          runId: run.runId,
          kind,
          stored,
          status,
          dryRun,
          ...counts,
          transitions,
          ...(error === undefined ? {} : { error }),
          startedAt,
          durationMs: endedAt - startedAt,
          ...(options.listOrders === true ? { orders: examinedOrders } : {})
        }
        return summary
      }).pipe(Effect.withSpan("Reconciler.runPass"))

    return { runPass } as const
  })
}) {}
