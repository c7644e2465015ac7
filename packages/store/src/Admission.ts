/**
 * Admission: deciding whether a raw inbound request becomes an inbox event (signature,
 * timestamp, body) — on the SQLite inbox writer's worker thread, next to the commit, so the
 * receiving thread only moves bytes. The store knows nothing about signatures or event
 * schemas: the app names a module that exports `makeAdmission(options)` returning
 * `(raw: RawInbound) => Verdict` (plain data in, plain data out); the worker imports it.
 */
import { Schema } from "effect"

/** A request as received: nothing in it is trusted yet. */
export const RawInbound = Schema.Struct({
  id: Schema.optional(Schema.String),
  timestamp: Schema.optional(Schema.String),
  signature: Schema.optional(Schema.String),
  body: Schema.Uint8ArrayFromSelf,
  /** The trace context to store with the event (`TraceContext`): the ingest span's, when traced. */
  traceContext: Schema.optional(Schema.String)
})
export type RawInbound = typeof RawInbound.Type

const Rejection = {
  /** HTTP status for the sender. */
  status: Schema.Int,
  /** Machine-readable error code and a message saying what is wrong. */
  error: Schema.String,
  message: Schema.String,
  /** Metric label (bad_signature, stale_past, malformed, invalid, …). */
  reason: Schema.String
}

/** An admission function's verdict on one request. */
export const Verdict = Schema.Union(
  Schema.TaggedStruct("Admit", {
    event: Schema.Struct({
      eventId: Schema.String,
      source: Schema.String,
      eventType: Schema.String,
      body: Schema.String
    })
  }),
  Schema.TaggedStruct("Reject", Rejection)
)
export type Verdict = typeof Verdict.Type

/** What became of one request of an admitted batch. */
export const AdmissionOutcome = Schema.Union(
  Schema.TaggedStruct("Stored", { eventId: Schema.String, outcome: Schema.Literal("new", "duplicate") }),
  Schema.TaggedStruct("Rejected", Rejection),
  /** Admitted but not committed (storage failure): the sender should retry. */
  Schema.TaggedStruct("NotStored", { message: Schema.String })
)
export type AdmissionOutcome = typeof AdmissionOutcome.Type

/** The signature of an admission module's `makeAdmission` export. */
export type MakeAdmission = (options: unknown) => (raw: RawInbound) => Verdict

/**
 * Where the worker finds the admission function: `url` of a module exporting `makeAdmission`,
 * and the `options` it is called with (structured-cloned into the worker: plain data only).
 */
export interface AdmissionModule {
  readonly url: string
  readonly options: unknown
}
