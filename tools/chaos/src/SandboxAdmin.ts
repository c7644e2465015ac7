/**
 * The sandbox's own controls over HTTP (`/_sandbox/*`): fault settings and what it has seen.
 */
import { FaultSettings } from "@hlconnect/sandbox"
import { Effect, Schema } from "effect"
import { DecodeFailure } from "./Errors.js"
import * as Http from "./Http.js"

const Counts = Schema.Record({ key: Schema.String, value: Schema.Number })

export const Stats = Schema.Struct({
  /** API requests by endpoint name. */
  requests: Counts,
  /** Responses by `endpoint status`. */
  responses: Counts,
  /** Registrations that created a line, by `order:line`. */
  registrations: Counts,
  /** Faults injected, by kind. */
  faults: Counts
})
export type Stats = typeof Stats.Type

export const stats = (sandboxUrl: string) => Http.json({ method: "GET", url: `${sandboxUrl}/_sandbox/stats` }, Stats)

const encodeFaults = Schema.encode(FaultSettings)

/** Replaces the fault settings (rates apply to every API request from now on). */
export const setFaults = (sandboxUrl: string, settings: FaultSettings) =>
  Effect.gen(function* () {
    const body = yield* encodeFaults(settings).pipe(Effect.mapError((e) => new DecodeFailure({ what: "fault settings", message: e.message })))
    yield* Http.expectStatus(
      { method: "PUT", url: `${sandboxUrl}/_sandbox/faults`, headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
      (s) => s === 204
    )
  })

export const noFaults = (sandboxUrl: string) => setFaults(sandboxUrl, FaultSettings.make({}))

/** `3×error500, 1×resetBefore` */
export const describeCounts = (counts: Readonly<Record<string, number>>): string =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${n}×${k}`)
    .join(", ")

export const total = (counts: Readonly<Record<string, number>>): number => Object.values(counts).reduce((a, b) => a + b, 0)
