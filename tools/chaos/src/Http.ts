/**
 * HTTP as the campaign needs it: raw requests over `node:http` (full control of headers, body
 * bytes, chunking; an early answer such as a 413 is read even when the rest of the body cannot be
 * sent), and JSON answers decoded with a Schema.
 */
import { Duration, Effect, Schema } from "effect"
import { Agent, type ClientRequest, type IncomingHttpHeaders, request as httpRequest } from "node:http"
import { DecodeFailure, HttpFailure, UnexpectedResponse } from "./Errors.js"

export interface HttpRequest {
  readonly method: string
  readonly url: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string | Buffer
  /** Send the body in chunks without a content-length (transfer-encoding: chunked). */
  readonly chunked?: boolean
  /** Default 10 seconds. */
  readonly timeout?: Duration.DurationInput
}

export interface HttpResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

const agent = new Agent({ keepAlive: true, maxSockets: 96 })

const chunkSize = 64 * 1024

/** One request; fails only when no complete answer arrived. Interrupting it destroys the request. */
export const request = (req: HttpRequest): Effect.Effect<HttpResponse, HttpFailure> =>
  Effect.async<HttpResponse, HttpFailure>((resume) => {
    const body = req.body === undefined ? undefined : typeof req.body === "string" ? Buffer.from(req.body) : req.body
    const headers: Record<string, string | number> = { ...req.headers }
    if (body !== undefined && req.chunked !== true && headers["content-length"] === undefined)
      headers["content-length"] = body.length
    let settled = false
    const fail = (message: string) => {
      if (settled) return
      settled = true
      resume(Effect.fail(new HttpFailure({ method: req.method, url: req.url, message })))
    }
    let outgoing: ClientRequest
    try {
      outgoing = httpRequest(req.url, {
        method: req.method,
        headers,
        agent,
        timeout: Duration.toMillis(Duration.decode(req.timeout ?? Duration.seconds(10)))
      })
    } catch (error) {
      // An invalid header value or URL, refused before anything is sent.
      fail(error instanceof Error ? error.message : String(error))
      return Effect.void
    }
    outgoing.on("response", (incoming) => {
      const chunks: Array<Buffer> = []
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk))
      incoming.on("end", () => {
        if (settled) return
        settled = true
        resume(
          Effect.succeed({
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            body: Buffer.concat(chunks).toString("utf8")
          })
        )
      })
      incoming.on("error", (error) => fail(`response: ${error.message}`))
    })
    outgoing.on("timeout", () => {
      outgoing.destroy(new Error("timed out"))
    })
    // After a complete answer, a failed upload (the server stopped reading a body it refused) is no failure.
    outgoing.on("error", (error) => fail(error.message))
    if (body === undefined) outgoing.end()
    else if (req.chunked === true) {
      const write = (offset: number) => {
        if (settled || outgoing.destroyed) return
        if (offset >= body.length) {
          outgoing.end()
          return
        }
        const more = outgoing.write(body.subarray(offset, offset + chunkSize))
        if (more) setImmediate(() => write(offset + chunkSize))
        else outgoing.once("drain", () => write(offset + chunkSize))
      }
      write(0)
    } else outgoing.end(body)
    return Effect.sync(() => {
      settled = true
      outgoing.destroy()
    })
  })

/** Decodes a JSON text with `schema`. */
export const decodeJson = <A, I>(schema: Schema.Schema<A, I>, what: string) => {
  const decode = Schema.decodeUnknown(Schema.parseJson(schema))
  return (text: string): Effect.Effect<A, DecodeFailure> =>
    Effect.mapError(decode(text), (error) => new DecodeFailure({ what, message: error.message }))
}

/** A request whose answer must be `expect` (default 200) and JSON of `schema`. */
export const json = <A, I>(
  req: HttpRequest,
  schema: Schema.Schema<A, I>,
  expect: ReadonlyArray<number> = [200]
): Effect.Effect<A, HttpFailure | UnexpectedResponse | DecodeFailure> =>
  Effect.flatMap(
    request(req),
    (res): Effect.Effect<A, DecodeFailure | UnexpectedResponse> =>
      expect.includes(res.status)
        ? decodeJson(schema, `${req.method} ${req.url}`)(res.body)
        : Effect.fail(new UnexpectedResponse({ url: req.url, status: res.status, body: res.body.slice(0, 500) }))
  )

/** A request whose answer must be one of `expect` (default 2xx); the body is ignored. */
export const expectStatus = (
  req: HttpRequest,
  expect: (status: number) => boolean = (s) => s >= 200 && s < 300
): Effect.Effect<HttpResponse, HttpFailure | UnexpectedResponse> =>
  Effect.flatMap(request(req), (res) =>
    expect(res.status)
      ? Effect.succeed(res)
      : Effect.fail(new UnexpectedResponse({ url: req.url, status: res.status, body: res.body.slice(0, 500) }))
  )

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
