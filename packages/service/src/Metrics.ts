/**
 * Renders every Effect metric in the Prometheus text exposition format 0.0.4,
 * so any app can expose `/metrics` without a metrics library of its own.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as MetricKey from "effect/MetricKey"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"

export const contentType = "text/plain; version=0.0.4; charset=utf-8"

type PrometheusType = "counter" | "gauge" | "histogram" | "summary"

interface Family {
  readonly name: string
  readonly type: PrometheusType
  readonly help: string
  readonly lines: Array<string>
}

type Labels = ReadonlyArray<readonly [string, string]>

/** Metric names must match `[a-zA-Z_:][a-zA-Z0-9_:]*`; anything else becomes `_`. */
export const sanitizeMetricName = (name: string): string => {
  const replaced = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(replaced) ? replaced : `_${replaced}`
}

/** Label names must match `[a-zA-Z_][a-zA-Z0-9_]*`. */
export const sanitizeLabelName = (name: string): string => {
  const replaced = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(replaced) ? replaced : `_${replaced}`
}

/** Escapes `\`, `"` and newlines in a label value. */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

// HELP text escapes only backslash and newline.
const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const formatValue = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Number.POSITIVE_INFINITY) return "+Inf"
  if (value === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(value)
}

const formatLabels = (labels: Labels): string =>
  labels.length === 0
    ? ""
    : `{${labels.map(([key, value]) => `${sanitizeLabelName(key)}="${escapeLabelValue(value)}"`).join(",")}}`

const sample = (name: string, labels: Labels, value: number | bigint): string =>
  `${name}${formatLabels(labels)} ${formatValue(value)}`

const tagsOf = (key: MetricKey.MetricKey.Untyped): Labels => key.tags.map((label) => [label.key, label.value] as const)

const render = (
  name: string,
  labels: Labels,
  state: MetricState.MetricState.Untyped
): { readonly type: PrometheusType; readonly lines: ReadonlyArray<string> } | undefined => {
  if (MetricState.isCounterState(state)) {
    return { type: "counter", lines: [sample(name, labels, state.count)] }
  }
  if (MetricState.isGaugeState(state)) {
    return { type: "gauge", lines: [sample(name, labels, state.value)] }
  }
  if (MetricState.isHistogramState(state)) {
    // Effect already reports cumulative bucket counts; make sure the mandatory +Inf bucket is present.
    const buckets = state.buckets.map(([bound, count]) =>
      sample(`${name}_bucket`, [...labels, ["le", formatValue(bound)]], count)
    )
    const hasInf = state.buckets.some(([bound]) => bound === Number.POSITIVE_INFINITY)
    if (!hasInf) buckets.push(sample(`${name}_bucket`, [...labels, ["le", "+Inf"]], state.count))
    return {
      type: "histogram",
      lines: [...buckets, sample(`${name}_sum`, labels, state.sum), sample(`${name}_count`, labels, state.count)]
    }
  }
  if (MetricState.isSummaryState(state)) {
    const quantiles = state.quantiles.map(([quantile, value]) =>
      sample(
        name,
        [...labels, ["quantile", formatValue(quantile)]],
        Option.getOrElse(value, () => Number.NaN)
      )
    )
    return {
      type: "summary",
      lines: [...quantiles, sample(`${name}_sum`, labels, state.sum), sample(`${name}_count`, labels, state.count)]
    }
  }
  if (MetricState.isFrequencyState(state)) {
    // Each distinct value counted by a frequency becomes its own series, labelled `key`.
    const lines: Array<string> = []
    for (const [key, count] of state.occurrences) lines.push(sample(name, [...labels, ["key", key]], count))
    return { type: "counter", lines }
  }
  return undefined
}

/** A few process-level gauges, useful on every dashboard. */
const processFamilies = (): ReadonlyArray<Family> => [
  {
    name: "process_resident_memory_bytes",
    type: "gauge",
    help: "Resident memory size in bytes.",
    lines: [sample("process_resident_memory_bytes", [], process.memoryUsage.rss())]
  },
  {
    name: "process_uptime_seconds",
    type: "gauge",
    help: "Seconds since the process started.",
    lines: [sample("process_uptime_seconds", [], process.uptime())]
  }
]

export interface RenderResult {
  readonly text: string
  /** Metrics whose name was already used by a metric of another kind; they are left out of `text`. */
  readonly conflicts: ReadonlyArray<string>
}

/** Pure rendering of a snapshot; series of one metric name are grouped under a single HELP/TYPE header. */
export const renderSnapshot = (
  pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>,
  options: { readonly includeProcessMetrics?: boolean } = {}
): RenderResult => {
  const families = new Map<string, Family>()
  const conflicts: Array<string> = []
  for (const pair of pairs) {
    const name = sanitizeMetricName(pair.metricKey.name)
    const rendered = render(name, tagsOf(pair.metricKey), pair.metricState)
    if (rendered === undefined) continue
    const existing = families.get(name)
    if (existing === undefined) {
      families.set(name, {
        name,
        type: rendered.type,
        help: Option.getOrElse(pair.metricKey.description, () => name),
        lines: [...rendered.lines]
      })
    } else if (existing.type === rendered.type) {
      existing.lines.push(...rendered.lines)
    } else {
      conflicts.push(`${pair.metricKey.name} (${rendered.type}, already registered as ${existing.type})`)
    }
  }
  if (options.includeProcessMetrics !== false) {
    for (const family of processFamilies()) {
      if (!families.has(family.name)) families.set(family.name, family)
    }
  }
  const sorted = Array.from(families.values()).sort((a, b) => a.name.localeCompare(b.name))
  const text = sorted
    .map((family) =>
      [
        `# HELP ${family.name} ${escapeHelp(family.help)}`,
        `# TYPE ${family.name} ${family.type}`,
        ...family.lines
      ].join("\n")
    )
    .join("\n")
  return { text: text === "" ? "" : `${text}\n`, conflicts }
}

/** All Effect metrics (plus process gauges) in Prometheus text format 0.0.4. */
export const prometheus: Effect.Effect<string> = Effect.gen(function* () {
  const pairs = yield* Metric.snapshot
  const { conflicts, text } = renderSnapshot(pairs)
  if (conflicts.length > 0) {
    yield* Effect.logWarning("metrics left out of /metrics because their name is used by another kind of metric", {
      conflicts
    })
  }
  return text
})
