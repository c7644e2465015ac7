/**
 * The yardstick for the relay's ingest: the least a server can do and still pay for what the
 * ingest contract makes costly — read the body, check the Standard Webhooks HMAC, parse the
 * JSON, commit durably (SQLite WAL, synchronous=FULL) in adaptive groups on a worker thread so
 * the event loop never waits on fsync, answer 202. No schema, no metrics, no error paths worth
 * the name: bench code only. Measured in the same run as the bare server and the relay, it
 * separates what the design costs on this host from what the relay adds to it.
 */
import { createServer } from "node:http"
import { Worker } from "node:worker_threads"
import { listening } from "./target.js"

interface Waiting {
  readonly answers: ReadonlyArray<(status: number) => void>
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/** `referenceWorker.ts` in a worker (tsx's hooks are not inherited by workers, so they are registered there first). */
const startWorker = (workerData: { readonly filename: string; readonly key: Uint8Array }) => {
  const api = JSON.stringify(import.meta.resolve("tsx/esm/api"))
  const entry = JSON.stringify(new URL("./referenceWorker.ts", import.meta.url).href)
  return new Worker(`import(${api}).then((tsx) => { tsx.register(); return import(${entry}) })`, {
    eval: true,
    workerData
  })
}

export const startReference = async (options: { readonly filename: string; readonly key: Uint8Array }) => {
  const worker = startWorker(options)
  await new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve())
    worker.once("error", reject)
  })
  const waiting = new Map<number, Waiting>()
  let nextId = 0
  let queue: Array<{ readonly item: Record<string, unknown>; readonly answer: (status: number) => void }> = []
  let armed = false
  const handOver = () => {
    armed = false
    if (queue.length === 0) return
    const id = nextId++
    waiting.set(id, { answers: queue.map((q) => q.answer) })
    worker.postMessage({ id, items: queue.map((q) => q.item) })
    queue = []
  }
  worker.on("message", (m: unknown) => {
    if (!isRecord(m) || !Array.isArray(m.replies)) return
    for (const reply of m.replies) {
      if (!isRecord(reply) || typeof reply.id !== "number" || !Array.isArray(reply.statuses)) continue
      const w = waiting.get(reply.id)
      waiting.delete(reply.id)
      reply.statuses.forEach((status, i) => {
        w?.answers[i]?.(typeof status === "number" ? status : 500)
      })
    }
  })
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const h = req.headers
      queue.push({
        item: {
          id: h["webhook-id"],
          timestamp: h["webhook-timestamp"],
          signature: h["webhook-signature"],
          body: Buffer.concat(chunks)
        },
        answer: (status) => {
          const body = status === 202 ? '{"status":"accepted"}' : '{"error":"rejected"}'
          res.writeHead(status, { "content-type": "application/json", "content-length": body.length })
          res.end(body)
        }
      })
      // Same hand-off as the relay: 16 at once, or whatever arrived by the end of the turn.
      if (queue.length >= 16) handOver()
      else if (!armed) {
        armed = true
        setImmediate(handOver)
      }
    })
  })
  const target = await listening(server)
  return {
    port: target.port,
    close: async () => {
      await target.close()
      await worker.terminate()
    }
  }
}
