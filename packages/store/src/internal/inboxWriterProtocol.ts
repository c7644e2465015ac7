/** Messages between `InboxWriter` (main thread) and `inboxWriterWorker` (worker thread), decoded on receipt. */
import { Schema } from "effect"

export const WorkerData = Schema.Struct({ filename: Schema.String })

/** Main → worker. `rows` are already validated and deduplicated; values in `inboxInsertColumns` order. */
export const Request = Schema.Union(
  Schema.TaggedStruct("Append", {
    id: Schema.Number,
    rows: Schema.Array(Schema.Array(Schema.Union(Schema.String, Schema.Number)))
  }),
  Schema.TaggedStruct("Close", {})
)
export type Request = typeof Request.Type

/** Worker → main. */
export const Reply = Schema.Union(
  Schema.TaggedStruct("Ready", {}),
  Schema.TaggedStruct("StartFailed", { message: Schema.String }),
  Schema.TaggedStruct("Appended", { id: Schema.Number, inserted: Schema.Array(Schema.String) }),
  Schema.TaggedStruct("AppendFailed", { id: Schema.Number, message: Schema.String })
)
export type Reply = typeof Reply.Type
