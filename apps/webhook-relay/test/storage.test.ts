import { StorageError } from "@hlconnect/store"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { inboxEvent, send, startRelay } from "./support.js"

describe("storage failure", () => {
  it("answers 503 with Retry-After and stores nothing, so the sender retries", async () => {
    const relay = await startRelay(
      {},
      {
        relay: {
          inboxWriter: {
            kind: "store",
            appendBatch: () => Effect.fail(new StorageError({ message: "disk I/O error", cause: "test" }))
          }
        }
      }
    )
    try {
      const r = await send(relay, { type: "order.refunded", data: { order_number: 5 } }, "storage-1")
      expect(r.status).toBe(503)
      expect(String(r.json.message)).toContain("retry")
      expect(await inboxEvent(relay, "storage-1")).toBeUndefined()
    } finally {
      await relay.close()
    }
  })
})
