/**
 * The load generator, run as a worker_thread so it never shares the server's event loop. Raw
 * keep-alive TCP connections (one request in flight each, like an HTTP/1.1 sender without
 * pipelining) writing pre-built, pre-signed request bytes: the cheapest client there is, so the
 * generator is not what limits the bare server.
 *
 * Messages: `load` (which requests to build and sign, once per target), then `run`s; each `run`
 * answers a `RunResult`.
 */
import { connect, type Socket } from "node:net"
import { parentPort } from "node:worker_threads"
import { type Batch, rawRequests } from "./requests.js"

export interface LoadMessage {
  readonly _tag: "load"
  readonly batch: Batch
}

export interface RunMessage {
  readonly _tag: "run"
  readonly port: number
  readonly connections: number
  readonly seconds: number
  /** First request index to send. */
  readonly from: number
  /** Start over at 0 when the requests run out (only where duplicates do not matter). */
  readonly cycle: boolean
}

export interface RunResult {
  readonly ok: number
  readonly failed: number
  readonly statuses: Record<string, number>
  readonly elapsedMs: number
  /** Index of the next unsent request. */
  readonly next: number
  readonly exhausted: boolean
  /** Per-request ack latency (write → full response), ms, sorted. */
  readonly latencies: Float64Array
}

const headerEnd = Buffer.from("\r\n\r\n")
const chunkedEnd = Buffer.from("\r\n0\r\n\r\n")

/** One request in flight at a time; `onResponse(status)` after each complete response. */
const connection = (
  port: number,
  onReady: (c: { send: (b: Buffer) => void; close: () => void }) => void,
  onResponse: (status: number) => void,
  onError: (e: Error) => void
) => {
  const socket: Socket = connect({ host: "127.0.0.1", port, noDelay: true })
  let pending: Buffer = Buffer.alloc(0)
  socket.on("connect", () => onReady({ send: (b) => socket.write(b), close: () => socket.destroy() }))
  socket.on("error", onError)
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    for (;;) {
      const end = pending.indexOf(headerEnd)
      if (end < 0) return
      const head = pending.subarray(0, end).toString("latin1")
      const status = Number(head.slice(9, 12))
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)
      let total: number
      if (length?.[1] !== undefined) total = end + 4 + Number(length[1])
      else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        const last = pending.indexOf(chunkedEnd, end + 2)
        if (last < 0) return
        total = last + chunkedEnd.length
      } else total = end + 4
      if (pending.length < total) return
      pending = pending.subarray(total)
      onResponse(status)
    }
  })
}

let requests: Array<Buffer> = []

const run = (m: RunMessage): Promise<RunResult> =>
  new Promise((resolve) => {
    const latencies: Array<number> = []
    let ok = 0
    let failed = 0
    let next = m.from
    let exhausted = false
    let open = m.connections
    const statuses: Record<string, number> = {}
    const started = performance.now()
    const deadline = started + m.seconds * 1000
    const take = (): Buffer | undefined => {
      if (next >= requests.length) {
        if (!m.cycle) {
          exhausted = true
          return undefined
        }
        next = 0
      }
      return requests[next++]
    }
    const finish = () => {
      if (--open > 0) return
      const elapsedMs = performance.now() - started
      const sorted = Float64Array.from(latencies).sort()
      resolve({ ok, failed, statuses, elapsedMs, next, exhausted, latencies: sorted })
    }
    for (let i = 0; i < m.connections; i++) {
      let sentAt = 0
      let conn: { send: (b: Buffer) => void; close: () => void } | undefined
      let done = false
      const stop = () => {
        if (done) return
        done = true
        conn?.close()
        finish()
      }
      const sendNext = () => {
        const now = performance.now()
        const request = now < deadline ? take() : undefined
        if (request === undefined || conn === undefined) return stop()
        sentAt = now
        conn.send(request)
      }
      connection(
        m.port,
        (c) => {
          conn = c
          sendNext()
        },
        (status) => {
          const now = performance.now()
          latencies.push(now - sentAt)
          statuses[status] = (statuses[status] ?? 0) + 1
          if (status >= 200 && status < 300) ok++
          else failed++
          sendNext()
        },
        () => {
          failed++
          stop()
        }
      )
    }
  })

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null

const isBatch = (v: unknown): v is Batch =>
  isRecord(v) &&
  typeof v.secret === "string" &&
  typeof v.prefix === "string" &&
  typeof v.count === "number" &&
  typeof v.orderBase === "number" &&
  typeof v.token === "string"

parentPort?.on("message", (message: unknown) => {
  if (!isRecord(message)) return
  if (message._tag === "load" && isBatch(message.batch)) {
    requests = rawRequests(message.batch)
    parentPort?.postMessage({ _tag: "loaded", count: requests.length })
    return
  }
  if (message._tag === "run") {
    const { port, connections, seconds, from, cycle } = message
    if (
      typeof port !== "number" ||
      typeof connections !== "number" ||
      typeof seconds !== "number" ||
      typeof from !== "number" ||
      typeof cycle !== "boolean"
    )
      return
    void run({ _tag: "run", port, connections, seconds, from, cycle }).then((result) =>
      parentPort?.postMessage({ _tag: "result", result })
    )
  }
})

parentPort?.postMessage({ _tag: "ready" })
