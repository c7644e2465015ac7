/**
 * The summary: one row per scenario (scenario | load | faults | lost | duplicated | result),
 * its notes, and the same as a Markdown file with the date and the machine it ran on.
 */
import { cpus, platform, release, totalmem } from "node:os"

export type Result = "PASS" | "FAIL"

export interface Row {
  readonly scenario: string
  readonly load: string
  readonly faults: string
  /** `undefined`: not applicable (shown as —). */
  readonly lost: number | undefined
  readonly duplicated: number | undefined
  readonly result: Result
  readonly seconds: number
  /** Facts and, on FAIL, what is wrong. */
  readonly notes: ReadonlyArray<string>
}

const header = ["scenario", "load", "faults", "lost", "duplicated", "result"] as const

const cells = (row: Row): ReadonlyArray<string> => [
  row.scenario,
  row.load,
  row.faults,
  row.lost === undefined ? "—" : String(row.lost),
  row.duplicated === undefined ? "—" : String(row.duplicated),
  `${row.result} (${row.seconds.toFixed(0)} s)`
]

const escapeCell = (s: string) => s.replaceAll("|", "\\|")

/** A Markdown table, padded so it also reads well in a terminal. */
export const render = (rows: ReadonlyArray<Row>): string => {
  const body = rows.map((r) => cells(r).map(escapeCell))
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((c) => (c[i] ?? "").length)))
  const line = (c: ReadonlyArray<string>) => `| ${c.map((v, i) => v.padEnd(widths[i] ?? 0)).join(" | ")} |`
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)].join("\n")
}

export const renderNotes = (rows: ReadonlyArray<Row>): string =>
  rows
    .filter((r) => r.notes.length > 0)
    .map((r) => [`${r.scenario}:`, ...r.notes.map((n) => `  - ${n}`)].join("\n"))
    .join("\n")

export const machine = (): string => {
  const cpu = cpus()
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown CPU"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${platform()} ${release()}, Node ${process.version}`
}

export interface Summary {
  readonly rows: ReadonlyArray<Row>
  readonly startedAt: Date
  readonly seconds: number
  readonly settings: string
}

export const markdown = (s: Summary): string =>
  [
    "# Chaos campaign: latest figures",
    "",
    `Run ${s.startedAt.toISOString()} with \`pnpm chaos\` (${s.settings}); ${s.seconds.toFixed(0)} s in all.`,
    `Machine: ${machine()}.`,
    "",
    render(s.rows),
    "",
    "## Notes",
    "",
    ...s.rows.flatMap((r) => [`**${r.scenario}**`, "", ...r.notes.map((n) => `- ${escapeNote(n)}`), ""])
  ].join("\n")

const escapeNote = (n: string) => n.replaceAll("\n", " ")
