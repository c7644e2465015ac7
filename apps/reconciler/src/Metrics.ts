/** The reconciler's metrics; `@hlconnect/service`'s `/metrics` renders them for Prometheus. */
import { Metric } from "effect"

export const runs = Metric.counter("reconcile_runs_total", { description: "Reconcile passes, by status" })
export const ordersExamined = Metric.counter("reconcile_orders_examined_total", { description: "Orders examined" })
export const transitions = Metric.counter("reconcile_transitions_total", {
  description: "Line transitions, by from→to"
})
export const drift = Metric.counter("reconcile_drift_total", {
  description: "Drift records (local and remote disagree)"
})
export const errors = Metric.counter("reconcile_errors_total", {
  description: "Orders that could not be reconciled this pass"
})
export const skippedRuns = Metric.counter("reconcile_skipped_runs_total", {
  description: "Scheduled runs skipped because the previous one was still running"
})
export const missedTicks = Metric.counter("reconcile_missed_ticks_total", {
  description: "Schedule ticks missed (downtime, long runs); caught up with one run"
})
export const emptyRuns = Metric.counter("reconcile_empty_runs_total", {
  description: "Passes that examined nothing: counted here, not stored as runs"
})
export const purged = Metric.counter("reconcile_purged_total", {
  description: "Rows deleted past RECONCILE_RETENTION, by kind (run, drift)",
  incremental: true
})
