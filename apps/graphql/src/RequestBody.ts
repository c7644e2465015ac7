/**
 * A request body read within `GRAPHQL_MAX_BODY_BYTES`, before yoga sees it. A declared
 * content-length over the limit is refused without reading; a body without one (chunked) is
 * counted as it streams and refused the moment it passes the limit, never buffered beyond it.
 *
 * Either way the rest is drained (here, or by Node once the answer is sent), not cut off. Yoga's
 * own limit errored the body stream, the platform's web-stream adapter then destroyed the Node
 * request, and with it the socket: the caller got a reset instead of the 413.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Data, Effect, Option, Schema, Stream } from "effect"
import { IncomingMessage } from "node:http"

export class BodyTooLarge extends Data.TaggedError("BodyTooLarge")<{ readonly limit: number }> {}

/** The body stopped arriving (the caller went away) or could not be read. */
export class BodyUnreadable extends Data.TaggedError("BodyUnreadable")<{ readonly message: string }> {}

const ContentLength = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())
const declaredLength = Schema.decodeUnknownOption(ContentLength)

/** Node: listeners on the request itself, so stopping early leaves it readable (and drained). */
const fromNode = (message: IncomingMessage, limit: number): Effect.Effect<Uint8Array<ArrayBuffer>, BodyTooLarge | BodyUnreadable> =>
  Effect.async((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const stop = () => {
      message.off("data", onData)
      message.off("end", onEnd)
      message.off("error", onError)
      // Flowing with no listener: the rest is discarded as it arrives, the connection stays in step.
      message.resume()
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        stop()
        resume(Effect.fail(new BodyTooLarge({ limit })))
      } else chunks.push(chunk)
    }
    const onEnd = () => {
      stop()
      resume(Effect.succeed(Buffer.concat(chunks, size)))
    }
    const onError = (error: Error) => {
      stop()
      resume(Effect.fail(new BodyUnreadable({ message: error.message })))
    }
    message.on("data", onData)
    message.on("end", onEnd)
    message.on("error", onError)
    return Effect.sync(stop)
  })

/** Any other platform: its body stream, given up at the limit. */
const fromStream = (request: HttpServerRequest.HttpServerRequest, limit: number): Effect.Effect<Uint8Array<ArrayBuffer>, BodyTooLarge | BodyUnreadable> =>
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

/** The whole body, or `BodyTooLarge` as soon as it is known to exceed `limit` bytes. */
export const read = (request: HttpServerRequest.HttpServerRequest, limit: number): Effect.Effect<Uint8Array<ArrayBuffer>, BodyTooLarge | BodyUnreadable> =>
  Effect.suspend(() => {
    const declared = declaredLength(request.headers["content-length"])
    if (Option.isSome(declared) && declared.value > limit) return Effect.fail(new BodyTooLarge({ limit }))
    return request.source instanceof IncomingMessage ? fromNode(request.source, limit) : fromStream(request, limit)
  })
