/**
 * `POST /webhooks/commerce`: raw body (size-capped) → Standard Webhooks verification →
 * schema decoding → durable commit to the inbox (group commit) → 2xx. Nothing unverified or
 * invalid reaches the store; a storage failure answers 503 so the sender retries.
 *
 * Two entry points share one decision function: `handleRaw` on the raw `node:http` objects
 * (the fast path, installed in front of the Effect router: the Effect HTTP stack costs more
 * CPU per request than verifying and committing) and `handler`, the same on the Effect router.
 */
import { NodeHttpServerRequest } from "@effect/platform-node"
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { HttpMetrics } from "@hlconnect/service"
import { Inbox, type InboxWriter, type InvalidInput, type StorageError } from "@hlconnect/store"
import { Cause, Data, Duration, Effect, Either, Exit, MetricLabel, Runtime, type Scope } from "effect"
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http"
import { parse } from "./CommerceEvents.js"
import * as GroupCommit from "./GroupCommit.js"
import type { RelayConfig } from "./RelayConfig.js"
import { bump } from "./RelayMetrics.js"
import { verify } from "./Signature.js"

export const source = "commerce"
export const path = "/webhooks/commerce"

export { inboundRequests as inboundTotal } from "./RelayMetrics.js"

class BodyTooLarge extends Data.TaggedError("BodyTooLarge")<{ readonly limit: number }> {}
class BodyUnreadable extends Data.TaggedError("BodyUnreadable")<{ readonly message: string }> {}

/** Reads the whole body, giving up (without buffering more) as soon as it exceeds `limit`. */
const readBodyCallback = (message: IncomingMessage, limit: number, done: (result: Either.Either<Buffer, BodyTooLarge | BodyUnreadable>) => void) => {
  const chunks: Array<Buffer> = []
  let size = 0
  let settled = false
  const finish = (result: Either.Either<Buffer, BodyTooLarge | BodyUnreadable>) => {
    if (settled) return
    settled = true
    message.off("data", onData)
    message.off("end", onEnd)
    message.off("error", onError)
    done(result)
  }
  const onData = (chunk: Buffer) => {
    size += chunk.length
    if (size > limit) {
      // Keep draining (discarding) so the 413 can be written on this connection.
      message.resume()
      finish(Either.left(new BodyTooLarge({ limit })))
      return
    }
    chunks.push(chunk)
  }
  const onEnd = () => finish(Either.right(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size)))
  const onError = (error: Error) => finish(Either.left(new BodyUnreadable({ message: error.message })))
  message.on("data", onData)
  message.on("end", onEnd)
  message.on("error", onError)
}

export const readBody = (message: IncomingMessage, limit: number): Effect.Effect<Buffer, BodyTooLarge | BodyUnreadable> =>
  Effect.async<Buffer, BodyTooLarge | BodyUnreadable>((resume) => readBodyCallback(message, limit, (r) => resume(r)))

const identifier = /^[A-Za-z0-9][A-Za-z0-9._:#/@-]{0,127}$/
const utf8 = new TextDecoder("utf-8", { fatal: true })

/** An answer: status, JSON body, extra headers. */
interface Reply {
  readonly status: number
  readonly body: string
  readonly headers?: Record<string, string>
}

const problem = (status: number, error: string, message: string, headers?: Record<string, string>): Reply =>
  headers === undefined ? { status, body: JSON.stringify({ error, message }) } : { status, body: JSON.stringify({ error, message }), headers }

const unavailable = problem(503, "unavailable", "the event could not be stored; retry later", { "retry-after": "5" })

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name]
  return typeof v === "string" ? v : undefined
}

export interface Ingest {
  /** The Effect-router handler (used when the server has no raw fast path). */
  readonly handler: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest>
  /** The fast path: takes `POST /webhooks/commerce` (true), passes anything else on (false). */
  readonly handleRaw: (request: IncomingMessage, response: ServerResponse) => boolean
}

/** The handlers, with their group-commit fiber running in the surrounding scope. */
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
    // Logging from callbacks outside any fiber (failures only) goes through the layer's runtime.
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const tooLarge = problem(413, "payload_too_large", `body exceeds ${limit} bytes`)

    const reject = (reason: string, reply: Reply): Reply => {
      bump.result(reason)
      return reply
    }

    /** Everything after the body is read: a reply now, or an event to commit. */
    const decide = (
      headers: IncomingHttpHeaders,
      body: Buffer
    ): { readonly _tag: "Reply"; readonly reply: Reply } | { readonly _tag: "Commit"; readonly event: Inbox.NewInboundEvent } => {
      const verified = verify(
        { id: header(headers, "webhook-id"), timestamp: header(headers, "webhook-timestamp"), signature: header(headers, "webhook-signature") },
        body,
        { keys: config.webhookKeys, toleranceSeconds, nowMillis: Date.now() }
      )
      if (Either.isLeft(verified)) {
        const e = verified.left
        return {
          _tag: "Reply",
          reply: reject(
            e._tag === "StaleTimestamp" ? `stale_${e.direction}` : "bad_signature",
            problem(401, e._tag === "StaleTimestamp" ? "stale_timestamp" : "invalid_signature", e.message)
          )
        }
      }
      bump.verified()
      const id = verified.right.id
      if (!identifier.test(id)) {
        return {
          _tag: "Reply",
          reply: reject(
            "malformed",
            problem(400, "invalid_webhook_id", "webhook-id must be 1–128 letters, digits or . _ : # / @ - (starting with a letter or digit)")
          )
        }
      }
      let text: string
      try {
        text = utf8.decode(body)
      } catch {
        return { _tag: "Reply", reply: reject("malformed", problem(400, "malformed_body", "body is not valid UTF-8")) }
      }
      const event = parse(text)
      if (Either.isLeft(event)) {
        const status = event.left.status
        return {
          _tag: "Reply",
          reply: reject(status === 400 ? "malformed" : "invalid", problem(status, status === 400 ? "malformed_body" : "invalid_event", event.left.message))
        }
      }
      return { _tag: "Commit", event: { eventId: id, source, eventType: event.right.type, body: text } }
    }

    const committed = (eventId: string, exit: Exit.Exit<Inbox.AppendOutcome, StorageError | InvalidInput>): Reply => {
      if (Exit.isSuccess(exit)) {
        const duplicate = exit.value.outcome === "duplicate"
        bump.result(duplicate ? "duplicate" : "accepted")
        return { status: duplicate ? 200 : 202, body: JSON.stringify({ status: duplicate ? "duplicate" : "accepted", id: eventId }) }
      }
      // An interrupted commit (shutdown) must not look like success either.
      bump.result("storage_error")
      const failure = Cause.failureOption(exit.cause)
      runFork(
        Effect.logError("inbox commit failed; answered 503", {
          error: failure._tag === "Some" ? failure.value.message : Cause.isInterruptedOnly(exit.cause) ? "interrupted" : Cause.pretty(exit.cause),
          webhookId: eventId
        })
      )
      return unavailable
    }

    /** The whole pipeline on callbacks; `answer` is called exactly once. */
    const ingest = (message: IncomingMessage, answer: (reply: Reply) => void) => {
      bump.received()
      const declared = Number(header(message.headers, "content-length") ?? "0")
      if (declared > limit) return answer(reject("too_large", tooLarge))
      readBodyCallback(message, limit, (read) => {
        if (Either.isLeft(read)) {
          return answer(
            read.left._tag === "BodyTooLarge" ? reject("too_large", tooLarge) : reject("unreadable", problem(400, "unreadable_body", read.left.message))
          )
        }
        let decision: ReturnType<typeof decide>
        try {
          decision = decide(message.headers, read.right)
        } catch (error) {
          runFork(Effect.logError("ingest failed", String(error)))
          return answer(unavailable)
        }
        if (decision._tag === "Reply") return answer(decision.reply)
        const eventId = decision.event.eventId
        committer.submitCallback(decision.event, (exit) => answer(committed(eventId, exit)))
      })
    }

    // http_server_requests_total / duration for the fast path, as the Effect middleware records them.
    const httpLabels = new Map<number, ReadonlyArray<MetricLabel.MetricLabel>>()
    const labelsFor = (status: number) => {
      let labels = httpLabels.get(status)
      if (labels === undefined) {
        labels = [MetricLabel.make("method", "POST"), MetricLabel.make("route", path), MetricLabel.make("status", String(status))]
        httpLabels.set(status, labels)
      }
      return labels
    }

    const handleRaw = (request: IncomingMessage, response: ServerResponse): boolean => {
      if (request.method !== "POST" || (request.url !== path && request.url?.split("?")[0] !== path)) return false
      const started = performance.now()
      ingest(request, (reply) => {
        const headers: Record<string, string | number> = {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(reply.body),
          ...reply.headers
        }
        response.writeHead(reply.status, headers)
        response.end(reply.body)
        const labels = labelsFor(reply.status)
        HttpMetrics.requestsTotal.unsafeUpdate(1, labels)
        HttpMetrics.requestDuration.unsafeUpdate((performance.now() - started) / 1000, labels)
      })
      return true
    }

    const handler = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const message = NodeHttpServerRequest.toIncomingMessage(request)
      const reply = yield* Effect.async<Reply>((resume) => ingest(message, (r) => resume(Effect.succeed(r))))
      return HttpServerResponse.text(reply.body, {
        status: reply.status,
        contentType: "application/json",
        ...(reply.headers === undefined ? {} : { headers: reply.headers })
      })
    })

    return { handler, handleRaw }
  })
