/**
 * Request bodies over `GRAPHQL_MAX_BODY_BYTES`: a 413 with a JSON error whether the length is
 * declared or the body is chunked, answered while the body still streams, on a connection that
 * keeps serving.
 */
import { Agent, request } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defaultMaxBodyBytes } from "../src/Config.js"
import { ApiKey, field, startServer, type TestServer } from "./support/server.js"

interface Answer {
  readonly status: number
  readonly body: string
}

/** A health query padded with JSON whitespace to `size` bytes. */
const padded = (size: number): Buffer => {
  const head = '{"query":"{ health { ok } }"'
  return Buffer.from(`${head}${" ".repeat(Math.max(0, size - head.length - 1))}}`)
}

/**
 * POSTs `body` over `agent`, in 64 KiB chunks (transfer-encoding: chunked) or with its
 * content-length. `holdOpen`: the request is only ended once the answer has arrived, so an
 * answer that waits for the end of the body never comes.
 */
const send = (server: TestServer, agent: Agent, body: Buffer, chunked: boolean, holdOpen = false): Promise<Answer> =>
  new Promise((resolve, reject) => {
    let written = 0
    let answered = false
    let sent = false
    const outgoing = request(
      server.graphqlUrl,
      {
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${ApiKey}`,
          "content-type": "application/json",
          accept: "application/graphql-response+json",
          ...(chunked ? { "transfer-encoding": "chunked" } : { "content-length": body.length })
        }
      },
      (incoming) => {
        const chunks: Array<Buffer> = []
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk))
        incoming.on("end", () => {
          answered = true
          if (sent) outgoing.end()
          resolve({ status: incoming.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") })
        })
        incoming.on("error", reject)
      }
    )
    outgoing.on("error", reject)
    const write = () => {
      while (written < body.length) {
        const chunk = body.subarray(written, written + 64 * 1024)
        written += chunk.length
        if (!outgoing.write(chunk)) {
          outgoing.once("drain", write)
          return
        }
      }
      sent = true
      if (!holdOpen || answered) outgoing.end()
    }
    write()
  })

const tooLarge = (limit: number) => ({
  errors: [
    {
      message: `Request body too large: the limit is ${limit} bytes.`,
      extensions: { code: "REQUEST_ENTITY_TOO_LARGE" }
    }
  ]
})

describe("request body limit (default 1 MiB)", () => {
  let server: TestServer
  // One connection for everything: each answer must leave it usable for the next request.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(async () => {
    agent.destroy()
    await server?.close()
  })

  it("a chunked body over the limit gets a 413 with a JSON error, without waiting for its end", async () => {
    const answer = await send(server, agent, padded(2 * defaultMaxBodyBytes), true, true)
    expect(answer.status).toBe(413)
    expect(JSON.parse(answer.body)).toEqual(tooLarge(defaultMaxBodyBytes))
    // The same connection, drained, serves the next request.
    const next = await send(server, agent, padded(200), true)
    expect([next.status, field(JSON.parse(next.body), "data", "health", "ok")]).toEqual([200, true])
  })

  it("a declared content-length over the limit gets the same 413", async () => {
    const answer = await send(server, agent, padded(defaultMaxBodyBytes + 1), false)
    expect(answer.status).toBe(413)
    expect(JSON.parse(answer.body)).toEqual(tooLarge(defaultMaxBodyBytes))
    const next = await server.query("{ health { ok } }")
    expect(field(next.body.data, "health", "ok")).toBe(true)
  })

  it("bodies up to the limit are served, chunked or not", async () => {
    for (const chunked of [true, false]) {
      const answer = await send(server, agent, padded(defaultMaxBodyBytes), chunked)
      expect([answer.status, field(JSON.parse(answer.body), "data", "health", "ok")]).toEqual([200, true])
    }
  })

  it("no API key: 401 first, the body is never read", async () => {
    const answer = await new Promise<number>((resolve, reject) => {
      const outgoing = request(
        server.graphqlUrl,
        { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } },
        (incoming) => {
          incoming.resume()
          resolve(incoming.statusCode ?? 0)
        }
      )
      outgoing.on("error", reject)
      outgoing.end(padded(2 * defaultMaxBodyBytes))
    })
    expect(answer).toBe(401)
  })
})

describe("request body limit (GRAPHQL_MAX_BODY_BYTES)", () => {
  let server: TestServer
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  beforeAll(async () => {
    server = await startServer({ settings: { maxBodyBytes: 8192 } })
  })
  afterAll(async () => {
    agent.destroy()
    await server?.close()
  })

  it("is the limit enforced", async () => {
    for (const chunked of [true, false]) {
      const over = await send(server, agent, padded(8193), chunked)
      expect([over.status, JSON.parse(over.body)]).toEqual([413, tooLarge(8192)])
      const within = await send(server, agent, padded(8192), chunked)
      expect(within.status).toBe(200)
    }
  })
})
