import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect } from "effect"
import { createServer, request as httpRequest } from "node:http"
import { describe, expect, it } from "vitest"
import * as RequestBody from "../src/RequestBody.js"

describe("request body", () => {
  // A web request has no content-length of its own: the body is counted as it streams.
  const post = (body: string, headers: Record<string, string> = {}) =>
    HttpServerRequest.fromWeb(new Request("http://localhost/body", { method: "POST", body, headers }))
  const read = (request: HttpServerRequest.HttpServerRequest, limit: number) =>
    Effect.runPromise(
      RequestBody.read(request, limit).pipe(
        Effect.map((bytes) => Buffer.from(bytes).toString("utf8")),
        Effect.either
      )
    )

  it("reads a body up to the limit, refuses one over it, declared or streamed", async () => {
    expect(await read(post("x".repeat(10)), 10)).toMatchObject({ _tag: "Right", right: "x".repeat(10) })
    expect(await read(post("x".repeat(11)), 10)).toMatchObject({
      _tag: "Left",
      left: { _tag: "BodyTooLarge", limit: 10 }
    })
    expect(await read(post("x", { "content-length": "11" }), 10)).toMatchObject({
      _tag: "Left",
      left: { _tag: "BodyTooLarge" }
    })
  })
})

describe("request body on node:http", () => {
  /** A real server answering with what the reader made of the body: the length read, or the error's tag. */
  const withServer = async (limit: number, run: (port: number) => Promise<void>) => {
    const server = createServer((req, res) => {
      RequestBody.readNodeCallback(req, limit, (result) => {
        const body = result._tag === "Right" ? `read ${result.right.length}` : result.left._tag
        res.writeHead(result._tag === "Right" ? 200 : 413, { "content-length": Buffer.byteLength(body) })
        res.end(body)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const address = server.address()
      if (address === null || typeof address === "string") throw new Error("no TCP address")
      await run(address.port)
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
  /** A chunked POST (no content-length): the reader has to count. */
  const post = (port: number, chunks: ReadonlyArray<string>) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ port, host: "127.0.0.1", method: "POST", path: "/" }, (res) => {
        let body = ""
        res.setEncoding("utf8")
        res.on("data", (c: string) => (body += c))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on("error", reject)
      for (const chunk of chunks) req.write(chunk)
      req.end()
    })

  it("counts a chunked body, answers 413 over the limit on the same connection (drained, not reset)", async () => {
    await withServer(10, async (port) => {
      expect(await post(port, ["12345", "12345"])).toEqual({ status: 200, body: "read 10" })
      expect(await post(port, ["12345", "123456", "x".repeat(64 * 1024)])).toEqual({
        status: 413,
        body: "BodyTooLarge"
      })
    })
  })
})
