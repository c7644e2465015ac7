/**
 * What a new inbox event must look like, shared by `Inbox.appendBatch` and the SQLite inbox
 * writer's worker thread (which validates events an admission module hands it).
 */
import { Schema } from "effect"
import { boundedText, Identifier } from "./codec.js"

/** Largest raw webhook body accepted; bigger is refused, not truncated (it must stay verifiable). */
export const MaxBodyBytes = 1024 * 1024
/** Events per `appendBatch`; keeps one statement well inside both engines' parameter limits. */
export const MaxBatchSize = 500

export const NewInboundEvent = Schema.Struct({
  eventId: Identifier,
  source: Identifier,
  eventType: boundedText(128).pipe(
    Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, { message: () => "must be like order.paid" })
  ),
  /** Raw body exactly as received (signature checks need the original bytes). */
  body: boundedText(MaxBodyBytes),
  /** `TraceContext`'s stored form: where the dispatcher's work continues the trace. */
  traceContext: Schema.optional(Schema.String.pipe(Schema.maxLength(600)))
})
export type NewInboundEvent = typeof NewInboundEvent.Type

/** What `appendBatch` (and the `InboxWriter`) accept: 1..MaxBatchSize events. */
export const NewInboundBatch = Schema.Array(NewInboundEvent).pipe(
  Schema.minItems(1),
  Schema.maxItems(MaxBatchSize, { message: () => `at most ${MaxBatchSize} events per batch` })
)
