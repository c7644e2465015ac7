/**
 * The sandbox's own controls over HTTP (`/_sandbox/*`): fault settings and what it has seen. They
 * take the sandbox's bearer token (the one its API takes) and JSON.
 */
import { FaultSettings } from "@hlconnect/sandbox"
import { Effect, Schema } from "effect"
import type { Upstream } from "./Apps.js"
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

/** The full stats (with the token; without it the sandbox shows counts only). */
export const stats = (sandbox: Upstream) =>
  Http.json({ method: "GET", url: `${sandbox.url}/_sandbox/stats`, headers: Http.bearer(sandbox.token) }, Stats)

const encodeFaults = Schema.encode(FaultSettings)

/** Replaces the fault settings (rates apply to every API request from now on). */
export const setFaults = (sandbox: Upstream, settings: FaultSettings) =>
  Effect.gen(function* () {
    const body = yield* encodeFaults(settings).pipe(
      Effect.mapError((e) => new DecodeFailure({ what: "fault settings", message: e.message }))
    )
    yield* Http.expectStatus(
      {
        method: "PUT",
        url: `${sandbox.url}/_sandbox/faults`,
        headers: { ...Http.bearer(sandbox.token), "content-type": "application/json" },
        body: JSON.stringify(body)
      },
      (s) => s === 204
    )
  })

export const noFaults = (sandbox: Upstream) => setFaults(sandbox, FaultSettings.make({}))

/** `3×error500, 1×resetBefore` */
export const describeCounts = (counts: Readonly<Record<string, number>>): string =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${n}×${k}`)
    .join(", ")

export const total = (counts: Readonly<Record<string, number>>): number =>
  Object.values(counts).reduce((a, b) => a + b, 0)
