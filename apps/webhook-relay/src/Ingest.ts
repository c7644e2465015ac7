/**
 * `POST /webhooks/commerce`: raw body (size-capped) → Standard Webhooks verification →
 * schema decoding → durable commit to the inbox (group commit) → 2xx. Nothing unverified or
 * invalid reaches the store; a storage failure answers 503 so the sender retries.
 */
import { NodeHttpServerRequest } from "@effect/platform-node"
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Inbox, type InboxWriter, type InvalidInput, type StorageError } from "@hlconnect/store"
import { Clock, Data, Duration, Effect, Either, Metric, type Scope } from "effect"
import type { IncomingMessage } from "node:http"
import { parse } from "./CommerceEvents.js"
import * as GroupCommit from "./GroupCommit.js"
import type { RelayConfig } from "./RelayConfig.js"
import { verify } from "./Signature.js"

export const source = "commerce"

export const inboundTotal = Metric.counter("relay_inbound_requests_total", {
  description: "Inbound webhook requests, by result.",
  incremental: true
})

class BodyTooLarge extends Data.TaggedError("BodyTooLarge")<{ readonly limit: number }> {}
class BodyUnreadable extends Data.TaggedError("BodyUnreadable")<{ readonly message: string }> {}

/** Reads the whole body, giving up (without buffering more) as soon as it exceeds `limit`. */
export const readBody = (message: IncomingMessage, limit: number): Effect.Effect<Buffer, BodyTooLarge | BodyUnreadable> =>
  Effect.async<Buffer, BodyTooLarge | BodyUnreadable>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    let settled = false
    const finish = (result: Effect.Effect<Buffer, BodyTooLarge | BodyUnreadable>) => {
      if (settled) return
      settled = true
      message.off("data", onData)
      message.off("end", onEnd)
      message.off("error", onError)
      resume(result)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        // Keep draining (discarding) so the 413 can be written on this connection.
        message.resume()
        finish(Effect.fail(new BodyTooLarge({ limit })))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => finish(Effect.succeed(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size)))
    const onError = (error: Error) => finish(Effect.fail(new BodyUnreadable({ message: error.message })))
    message.on("data", onData)
    message.on("end", onEnd)
    message.on("error", onError)
  })

const identifier = /^[A-Za-z0-9][A-Za-z0-9._:#/@-]{0,127}$/
const utf8 = new TextDecoder("utf-8", { fatal: true })

const problem = (status: number, error: string, message: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson({ error, message }, { status, headers })

const count = (result: string) => Metric.increment(Metric.tagged(inboundTotal, "result", result))

export interface Ingest {
  readonly handler: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest>
}

/** The handler, with its group-commit fiber running in the surrounding scope. */
export const make = (
  config: RelayConfig,
  writer: InboxWriter.InboxWriterService,
  options: { readonly grouped?: boolean; readonly onCommitted?: Effect.Effect<void> } = {}
): Effect.Effect<Ingest, never, Scope.Scope> =>
  Effect.gen(function* () {
    const limit = Math.min(config.maxBodyBytes, Inbox.MaxBodyBytes)
    const toleranceSeconds = Math.floor(Duration.toSeconds(config.timestampTolerance))
    const onCommitted = options.onCommitted ?? Effect.void
    const committer = yield* GroupCommit.make<Inbox.NewInboundEvent, Inbox.AppendOutcome, StorageError | InvalidInput>({
      maxBatch: config.commitBatchSize,
      grouped: options.grouped ?? true,
      commit: (events) => Effect.tap(writer.appendBatch(events), () => onCommitted)
    })

    const handler = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const declared = Number(request.headers["content-length"] ?? "0")
      if (declared > limit) {
        yield* count("too_large")
        return problem(413, "payload_too_large", `body exceeds ${limit} bytes`)
      }
      const read = yield* Effect.either(readBody(NodeHttpServerRequest.toIncomingMessage(request), limit))
      if (Either.isLeft(read)) {
        yield* count(read.left._tag === "BodyTooLarge" ? "too_large" : "unreadable")
        return read.left._tag === "BodyTooLarge"
          ? problem(413, "payload_too_large", `body exceeds ${limit} bytes`)
          : problem(400, "unreadable_body", read.left.message)
      }
      const body = read.right
      const now = yield* Clock.currentTimeMillis
      const verified = verify(
        { id: request.headers["webhook-id"], timestamp: request.headers["webhook-timestamp"], signature: request.headers["webhook-signature"] },
        body,
        { keys: config.webhookKeys, toleranceSeconds, nowMillis: now }
      )
      if (Either.isLeft(verified)) {
        const e = verified.left
        yield* count(e._tag === "StaleTimestamp" ? `stale_${e.direction}` : "bad_signature")
        return problem(401, e._tag === "StaleTimestamp" ? "stale_timestamp" : "invalid_signature", e.message)
      }
      const id = verified.right.id
      if (!identifier.test(id)) {
        yield* count("malformed")
        return problem(400, "invalid_webhook_id", "webhook-id must be 1–128 letters, digits or . _ : # / @ - (starting with a letter or digit)")
      }
      let text: string
      try {
        text = utf8.decode(body)
      } catch {
        yield* count("malformed")
        return problem(400, "malformed_body", "body is not valid UTF-8")
      }
      const event = parse(text)
      if (Either.isLeft(event)) {
        yield* count(event.left.status === 400 ? "malformed" : "invalid")
        return problem(event.left.status, event.left.status === 400 ? "malformed_body" : "invalid_event", event.left.message)
      }
      const outcome = yield* Effect.either(committer.submit({ eventId: id, source, eventType: event.right.type, body: text }))
      if (Either.isLeft(outcome)) {
        yield* count("storage_error")
        yield* Effect.logError("inbox commit failed; answered 503", { error: outcome.left.message, webhookId: id })
        return problem(503, "unavailable", "the event could not be stored; retry later", { "retry-after": "5" })
      }
      const duplicate = outcome.right.outcome === "duplicate"
      yield* count(duplicate ? "duplicate" : "accepted")
      return HttpServerResponse.unsafeJson({ status: duplicate ? "duplicate" : "accepted", id }, { status: duplicate ? 200 : 202 })
    }).pipe(
      // An interrupted commit (shutdown) must not look like success.
      Effect.catchAllCause((cause) =>
        Effect.zipRight(
          Effect.logError("ingest failed", cause),
          Effect.succeed(problem(503, "unavailable", "the event could not be stored; retry later", { "retry-after": "5" }))
        )
      )
    )

    return { handler }
  })
