/** Messages between `InboxWriter` (main thread) and `inboxWriterWorker` (worker thread), decoded on receipt. */
import { Schema } from "effect"
import { AdmissionOutcome, RawInbound } from "../Admission.js"

export const WorkerData = Schema.Struct({
  filename: Schema.String,
  /** The admission module (see `Admission`); absent: the worker only appends. */
  admission: Schema.optional(Schema.Struct({ url: Schema.String, options: Schema.Unknown }))
})

/** Main → worker. `rows` are already validated and deduplicated; values in `inboxInsertColumns` order. */
export const Request = Schema.Union(
  Schema.TaggedStruct("Append", {
    id: Schema.Number,
    rows: Schema.Array(Schema.Array(Schema.Union(Schema.String, Schema.Number, Schema.Null)))
  }),
  /** Raw requests to admit and commit (one transaction for those admitted). */
  Schema.TaggedStruct("Admit", { id: Schema.Number, items: Schema.Array(RawInbound) }),
  Schema.TaggedStruct("Close", {})
)
export type Request = typeof Request.Type

/** Worker → main. */
export const Reply = Schema.Union(
  Schema.TaggedStruct("Ready", {}),
  Schema.TaggedStruct("StartFailed", { message: Schema.String }),
  Schema.TaggedStruct("Appended", { id: Schema.Number, inserted: Schema.Array(Schema.String) }),
  Schema.TaggedStruct("AppendFailed", { id: Schema.Number, message: Schema.String }),
  /** One outcome per item of an `Admit`, in order. */
  Schema.TaggedStruct("AdmitResults", { id: Schema.Number, results: Schema.Array(AdmissionOutcome) })
)
export type Reply = typeof Reply.Type
