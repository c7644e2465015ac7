/** Prometheus text (`/metrics`) read into samples, and sums over them. */
import { Duration, Effect } from "effect"
import * as Http from "./Http.js"

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

export const parse = (text: string): ReadonlyArray<Sample> => {
  const samples: Array<Sample> = []
  for (const raw of text.split("\n")) {
    if (raw.startsWith("#")) continue
    const m = line.exec(raw.trim())
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? "").matchAll(label)) labels[l[1] ?? ""] = l[2] ?? ""
    const value = Number(m[3])
    if (Number.isFinite(value)) samples.push({ name: m[1] ?? "", labels, value })
  }
  return samples
}

/** The sum of `name` over samples whose labels include `where`. */
export const sum = (
  samples: ReadonlyArray<Sample>,
  name: string,
  where: Readonly<Record<string, string>> = {}
): number =>
  samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0)

/** A process's `/metrics`. */
export const scrape = (baseUrl: string) =>
  Effect.map(Http.expectStatus({ method: "GET", url: `${baseUrl}/metrics`, timeout: Duration.seconds(5) }), (res) =>
    parse(res.body)
  )
