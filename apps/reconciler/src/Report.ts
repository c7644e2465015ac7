/**
 * How a pass or a stored run is shown: a summary table for people on a terminal, one JSON
 * document for machines.
 */
import { Progress } from "@hlconnect/service"
import type { ReconcileRuns } from "@hlconnect/store"
import { Option } from "effect"
import type { PassSummary } from "./Reconciler.js"

const table = (rows: ReadonlyArray<readonly [string, string]>): string => {
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n")
}

export const renderSummary = (summary: PassSummary): string => {
  const transitions = Object.entries(summary.transitions).sort(([a], [b]) => a.localeCompare(b))
  const rows: Array<readonly [string, string]> = [
    ["run", summary.runId + (summary.stored ? "" : " (examined nothing: not stored)")],
    ["status", summary.status + (summary.dryRun ? " (dry run: nothing changed)" : "")],
    ["duration", `${(summary.durationMs / 1000).toFixed(1)} s`],
    ["examined", String(summary.examined)],
    ["changed", String(summary.changed)],
    ["drift", String(summary.drift)],
    ["needs attention", String(summary.needsAttention)],
    ["failed lines", String(summary.failed)],
    ["errors", String(summary.errors)]
  ]
  const lines = [summary.kind === "audit" ? "Audit run" : "Reconcile run", table(rows)]
  if (transitions.length > 0) {
    lines.push(summary.dryRun ? "Would do" : "Transitions", table(transitions.map(([k, n]) => [k, String(n)] as const)))
  }
  if (summary.error !== undefined) lines.push(`Stopped: ${summary.error}`)
  return lines.join("\n")
}

/**
 * The progress line of a pass on a terminal: orders done of the expected total, rate, ETA, then
 * what the pass found so far. `total` undefined: still counting the due orders.
 */
export const progressLine = (
  kind: ReconcileRuns.RunKind,
  counts: { readonly examined: number; readonly changed: number; readonly drift: number; readonly errors: number },
  total: number | undefined,
  elapsedMs: number
): string => {
  const label = kind === "audit" ? "auditing" : "reconciling"
  if (total === undefined)
    return `${label}: counting the orders to examine… ${Progress.formatDuration(elapsedMs)} elapsed`
  const head = Progress.countLine({ label, unit: "orders", done: counts.examined, total, elapsedMs })
  return `${head} · changed ${counts.changed}, drift ${counts.drift}, errors ${counts.errors}`
}

const json = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value))

/** A stored run's own fields, without its drift records (`report --runs N`). */
export const runFieldsToJson = (run: ReconcileRuns.ReconcileRun) => ({
  runId: run.runId,
  kind: run.kind,
  status: run.status,
  startedAt: new Date(run.startedAt).toISOString(),
  endedAt: Option.match(run.endedAt, { onNone: () => null, onSome: (t) => new Date(t).toISOString() }),
  examined: run.examined,
  drifted: run.drifted,
  repaired: run.repaired,
  failed: run.failed,
  error: Option.getOrNull(run.error)
})

/** One line per run, most recent first: `report --runs N` on a terminal. */
export const renderRunLines = (runs: ReadonlyArray<ReconcileRuns.ReconcileRun>): string =>
  runs
    .map((run) => {
      const view = runFieldsToJson(run)
      const error = view.error === null ? "" : `  error: ${view.error}`
      return `${view.startedAt}  ${view.runId}  ${view.kind.padEnd(5)}  ${view.status.padEnd(9)}  examined ${view.examined}, drifted ${view.drifted}, changed ${view.repaired}, problems ${view.failed}${error}`
    })
    .join("\n")

export const runToJson = (run: ReconcileRuns.ReconcileRun, drifts: ReadonlyArray<ReconcileRuns.Drift>) => ({
  ...runFieldsToJson(run),
  drifts: drifts.map((d) => ({
    orderNumber: d.orderNumber,
    orderLineId: Option.getOrNull(d.orderLineId),
    expected: d.expected,
    observed: d.observed,
    action: d.action,
    result: d.result,
    recordedAt: new Date(d.recordedAt).toISOString()
  }))
})

export const renderRun = (run: ReconcileRuns.ReconcileRun, drifts: ReadonlyArray<ReconcileRuns.Drift>): string => {
  const view = runToJson(run, drifts)
  const lines = [
    `${view.kind === "audit" ? "Audit" : "Reconcile"} run ${view.runId}`,
    table([
      ["status", view.status],
      ["started", view.startedAt],
      ["ended", view.endedAt ?? "-"],
      ["examined", String(view.examined)],
      ["drifted", String(view.drifted)],
      ["changed", String(view.repaired)],
      ["problems", String(view.failed)],
      ["error", view.error ?? "-"]
    ])
  ]
  if (drifts.length > 0) {
    lines.push("Drift")
    for (const d of view.drifts) {
      lines.push(
        `  order ${d.orderNumber}/${d.orderLineId ?? "*"}: expected ${json(d.expected)}, observed ${json(d.observed)} → ${d.action}: ${d.result}`
      )
    }
  }
  return lines.join("\n")
}
