/**
 * The one size-capped request-body reader, for every app that takes a body (the relay's webhook
 * ingest, the GraphQL endpoint). A declared content-length over the limit is refused without
 * reading; a body without one (chunked) is counted as it streams and refused the moment it passes
 * the limit, never buffered beyond it.
 *
 * Either way the rest is drained (here, or by Node once the answer is sent), not cut off: stopping
 * by erroring or destroying the stream would reset the socket, and the caller would get a reset
 * instead of the 413.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Data, Effect, Either, Option, Schema, Stream } from "effect"
import { type IncomingHttpHeaders, IncomingMessage } from "node:http"

/** The body is (or was declared) longer than `limit` bytes: a 413. */
export class BodyTooLarge extends Data.TaggedError("BodyTooLarge")<{ readonly limit: number }> {}

/** The body stopped arriving (the caller went away) or could not be read. */
export class BodyUnreadable extends Data.TaggedError("BodyUnreadable")<{ readonly message: string }> {}

export type BodyError = BodyTooLarge | BodyUnreadable

const ContentLength = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())
const declaredLength = Schema.decodeUnknownOption(ContentLength)

/** The request declares (content-length) a body longer than `limit`: refuse it without reading. */
export const declaredTooLarge = (
  headers: IncomingHttpHeaders | Readonly<Record<string, string | undefined>>,
  limit: number
): boolean => {
  const declared = declaredLength(headers["content-length"])
  return Option.isSome(declared) && declared.value > limit
}

/**
 * Node, on callbacks (for raw `node:http` fast paths that run outside any fiber): listeners on the
 * request itself, so stopping early leaves it readable and drained. `done` is called once; the
 * returned function stops reading (nothing more is called).
 */
export const readNodeCallback = (
  message: IncomingMessage,
  limit: number,
  done: (result: Either.Either<Buffer<ArrayBuffer>, BodyError>) => void
): (() => void) => {
  const chunks: Array<Buffer<ArrayBuffer>> = []
  let size = 0
  let settled = false
  const stop = () => {
    if (settled) return
    settled = true
    message.off("data", onData)
    message.off("end", onEnd)
    message.off("error", onError)
    // Flowing with no listener: the rest is discarded as it arrives, the connection stays in step.
    message.resume()
  }
  const finish = (result: Either.Either<Buffer<ArrayBuffer>, BodyError>) => {
    if (settled) return
    stop()
    done(result)
  }
  // Node hands out chunks of its own (non-shared) ArrayBuffers.
  const onData = (chunk: Buffer<ArrayBuffer>) => {
    size += chunk.length
    if (size > limit) finish(Either.left(new BodyTooLarge({ limit })))
    else chunks.push(chunk)
  }
  const onEnd = () =>
    finish(Either.right(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size)))
  const onError = (error: Error) => finish(Either.left(new BodyUnreadable({ message: error.message })))
  message.on("data", onData)
  message.on("end", onEnd)
  message.on("error", onError)
  return stop
}

/** Node: the whole body, or `BodyTooLarge` as soon as it exceeds `limit`; interruption stops reading. */
export const readNode = (message: IncomingMessage, limit: number): Effect.Effect<Buffer<ArrayBuffer>, BodyError> =>
  Effect.async((resume) => Effect.sync(readNodeCallback(message, limit, (result) => resume(result))))

/** Any other platform: its body stream, given up at the limit. */
const readStream = (
  request: HttpServerRequest.HttpServerRequest,
  limit: number
): Effect.Effect<Buffer<ArrayBuffer>, BodyError> =>
  Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    return request.stream.pipe(
      Stream.mapError((error) => new BodyUnreadable({ message: error.message })),
      Stream.runForEach((chunk) => {
        size += chunk.length
        if (size > limit) return Effect.fail(new BodyTooLarge({ limit }))
        chunks.push(chunk)
        return Effect.void
      }),
      Effect.map(() => Buffer.concat(chunks, size))
    )
  })

/** The whole body of an Effect server request, or `BodyTooLarge` as soon as it is known to exceed `limit` bytes. */
export const read = (
  request: HttpServerRequest.HttpServerRequest,
  limit: number
): Effect.Effect<Buffer<ArrayBuffer>, BodyError> =>
  Effect.suspend(() => {
    if (declaredTooLarge(request.headers, limit)) return Effect.fail(new BodyTooLarge({ limit }))
    return request.source instanceof IncomingMessage ? readNode(request.source, limit) : readStream(request, limit)
  })
