/**
 * The contract's result: its JSON shape for CI (a Schema, so the shape is stated once and
 * documented in the README), the verdict and exit code, and the table for a terminal.
 */
import { Schema } from "effect"
import type { Check } from "./Checks.js"
import type { DriftRow } from "./Drift.js"

export const CheckJson = Schema.Struct({
  name: Schema.String,
  result: Schema.Literal("PASS", "FAIL"),
  reason: Schema.String
})

export const DriftJson = Schema.Struct({
  severity: Schema.Literal("breaking", "warning"),
  kind: Schema.String,
  endpoint: Schema.String,
  status: Schema.NullOr(Schema.Number),
  path: Schema.String,
  detail: Schema.String,
  count: Schema.Number
})

/** `pass`: exit 0; `fail`: exit 1 (a failed check or breaking drift); `cannot-run`: exit 2. */
export const Verdict = Schema.Literal("pass", "fail", "cannot-run")
export type Verdict = typeof Verdict.Type

export const ContractReport = Schema.Struct({
  baseUrl: Schema.String,
  /** The `X-Environment` the server sent (several, comma-separated, if it changed), or null. */
  environment: Schema.NullOr(Schema.String),
  checks: Schema.Array(CheckJson),
  drift: Schema.Array(DriftJson),
  verdict: Verdict,
  /** Why it could not run (verdict `cannot-run` only). */
  error: Schema.optional(Schema.String)
})
export type ContractReport = typeof ContractReport.Type

export const ExitCode = { pass: 0, fail: 1, "cannot-run": 2 } as const satisfies Record<Verdict, number>

export const verdictOf = (checks: ReadonlyArray<Check>, drift: ReadonlyArray<DriftRow>): Verdict =>
  checks.some((c) => c.result === "FAIL") || drift.some((d) => d.severity === "breaking") ? "fail" : "pass"

export const toJson = (report: ContractReport): string =>
  JSON.stringify(Schema.encodeSync(ContractReport)(report), null, 2)

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}

/** The terminal rendering: checks, then drift rows, then the verdict. */
export const render = (report: ContractReport): string => {
  const lines = [`HL Connect contract — ${report.baseUrl} (X-Environment: ${report.environment ?? "none seen"})`, ""]
  if (report.error !== undefined) {
    lines.push(`Could not run: ${report.error}`, "", `Verdict: CANNOT-RUN (exit ${ExitCode["cannot-run"]})`)
    return lines.join("\n")
  }
  if (report.checks.length > 0) {
    lines.push(
      table(
        ["CHECK", "RESULT", "REASON"],
        report.checks.map((c) => [c.name, c.result, c.reason])
      ),
      ""
    )
  }
  if (report.drift.length === 0) {
    lines.push("Drift: none", "")
  } else {
    lines.push(
      `Drift (${report.drift.length}):`,
      table(
        ["SEVERITY", "ENDPOINT", "STATUS", "PATH", "KIND", "COUNT", "DETAIL"],
        report.drift.map((d) => [
          d.severity.toUpperCase(),
          d.endpoint,
          d.status === null ? "-" : String(d.status),
          d.path === "" ? "(response)" : d.path,
          d.kind,
          String(d.count),
          d.detail
        ])
      ),
      ""
    )
  }
  const failed = report.checks.filter((c) => c.result === "FAIL").length
  const breaking = report.drift.filter((d) => d.severity === "breaking").length
  const warnings = report.drift.length - breaking
  lines.push(
    `Verdict: ${report.verdict.toUpperCase()} — ${report.checks.length - failed}/${report.checks.length} checks passed, ` +
      `${breaking} breaking, ${warnings} warning(s) (exit ${ExitCode[report.verdict]})`
  )
  return lines.join("\n")
}
