/**
 * `POST /webhooks/commerce`: raw body (size-capped) → Standard Webhooks verification →
 * schema decoding → durable commit to the inbox (group commit) → 2xx. Nothing unverified or
 * invalid reaches the store; a storage failure answers 503 so the sender retries.
 *
 * Two entry points share one pipeline: `handleRaw` on the raw `node:http` objects (the fast
 * path, installed in front of the Effect router: the Effect HTTP stack costs more CPU per
 * request than verifying and committing) and `handler`, the same on the Effect router.
 *
 * Traced (only while spans are exported: this path builds its span by hand, outside any fiber):
 * a `Relay.ingest` server span continuing the sender's `traceparent`, whose context is stored
 * with the event, so the dispatcher's work is its child.
 *
 * Where the verdict is reached (`InboundAdmission`): with a SQLite inbox writer it runs on the
 * writer's worker thread, next to the commit, so this thread only reads bodies and writes
 * answers; otherwise here, before the group commit (PostgreSQL).
 */
import { NodeHttpServerRequest } from "@effect/platform-node"
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { traceparentOf } from "@hlconnect/core"
import { HttpMetrics, RequestBody, Tracing } from "@hlconnect/service"
import {
  type Admission,
  Inbox,
  type InboxWriter,
  type InvalidInput,
  type StorageError,
  TraceContext
} from "@hlconnect/store"
import { Cause, Context, Effect, Either, Exit, MetricLabel, Runtime, type Scope, type Tracer } from "effect"
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http"
import * as GroupCommit from "./GroupCommit.js"
import { admit, settingsOf, unverifiedReasons } from "./InboundAdmission.js"
import type { RelayConfig } from "./RelayConfig.js"
import { bump } from "./RelayMetrics.js"

export { source } from "./InboundAdmission.js"
export const path = "/webhooks/commerce"

export { inboundRequests as inboundTotal } from "./RelayMetrics.js"

/**
 * Requests handed to the SQLite writer at once: small, so the writer starts verifying while this
 * thread is still reading the rest of a burst (it commits whatever has reached it together).
 */
const handOverChunk = 16

/** An answer: status, JSON body, extra headers. */
interface Reply {
  readonly status: number
  readonly body: string
  readonly headers?: Record<string, string>
}

const problem = (status: number, error: string, message: string, headers?: Record<string, string>): Reply =>
  headers === undefined
    ? { status, body: JSON.stringify({ error, message }) }
    : { status, body: JSON.stringify({ error, message }), headers }

const unavailable = problem(503, "unavailable", "the event could not be stored; retry later", { "retry-after": "5" })

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name]
  return typeof v === "string" ? v : undefined
}

/** What happens once a body is read: `answer` is called exactly once. */
type AdmitAndCommit = (raw: Admission.RawInbound, answer: (reply: Reply) => void) => void

/** Why a commit did not happen, for the log: the failure, an interruption (shutdown), or a defect. */
const causeMessage = (cause: Cause.Cause<{ readonly message: string }>): string => {
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some"
    ? failure.value.message
    : Cause.isInterruptedOnly(cause)
      ? "interrupted"
      : Cause.pretty(cause)
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
  options: { readonly onCommitted?: () => void } = {}
): Effect.Effect<Ingest, never, Scope.Scope> =>
  Effect.gen(function* () {
    const limit = Math.min(config.maxBodyBytes, Inbox.MaxBodyBytes)
    const onCommitted = options.onCommitted ?? (() => {})
    // Logging from callbacks outside any fiber (failures only) goes through the layer's runtime.
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const tooLarge = problem(413, "payload_too_large", `body exceeds ${limit} bytes`)

    const reject = (reason: string, reply: Reply): Reply => {
      bump.result(reason)
      return reply
    }

    const settings = settingsOf(config)
    const exporting = yield* Tracing.Exporting
    const tracer = yield* Effect.tracer
    const nowNanos = () => BigInt(Date.now()) * 1_000_000n

    const ingestSpan = (headers: IncomingHttpHeaders): Tracer.Span => {
      const parent = TraceContext.toSpan(
        TraceContext.ofHeaders(header(headers, "traceparent"), header(headers, "tracestate"))
      )
      const span = tracer.span("Relay.ingest", parent, Context.empty(), [], nowNanos(), "server")
      span.attribute("http.request.method", "POST")
      span.attribute("url.path", path)
      const id = header(headers, "webhook-id")
      if (id !== undefined) span.attribute("hlconnect.webhook_id", id.slice(0, 256))
      return span
    }
    const endSpan = (span: Tracer.Span, reply: Reply) => {
      span.attribute("http.response.status_code", reply.status)
      span.end(nowNanos(), reply.status >= 500 ? Exit.fail(reply.body) : Exit.void)
    }

    const rejected = (r: {
      readonly status: number
      readonly error: string
      readonly message: string
      readonly reason: string
    }): Reply => {
      if (!unverifiedReasons.has(r.reason)) bump.verified()
      return reject(r.reason, problem(r.status, r.error, r.message))
    }

    const notStored = (eventId: string | undefined, error: string): Reply => {
      bump.result("storage_error")
      runFork(Effect.logError("inbox commit failed; answered 503", { error, webhookId: eventId }))
      return unavailable
    }

    const stored = (eventId: string, outcome: "new" | "duplicate"): Reply => {
      const duplicate = outcome === "duplicate"
      bump.result(duplicate ? "duplicate" : "accepted")
      return {
        status: duplicate ? 200 : 202,
        body: JSON.stringify({ status: duplicate ? "duplicate" : "accepted", id: eventId })
      }
    }

    const committed = (eventId: string, exit: Exit.Exit<Inbox.AppendOutcome, StorageError | InvalidInput>): Reply => {
      if (Exit.isSuccess(exit)) return stored(eventId, exit.value.outcome)
      // An interrupted commit (shutdown) must not look like success either.
      return notStored(eventId, causeMessage(exit.cause))
    }

    const admittedReply = (
      raw: Admission.RawInbound,
      exit: Exit.Exit<Admission.AdmissionOutcome, StorageError>
    ): Reply => {
      if (Exit.isFailure(exit)) {
        bump.verified()
        return notStored(raw.id, causeMessage(exit.cause))
      }
      const outcome = exit.value
      switch (outcome._tag) {
        case "Stored":
          bump.verified()
          return stored(outcome.eventId, outcome.outcome)
        case "Rejected":
          return rejected(outcome)
        case "NotStored":
          bump.verified()
          return notStored(raw.id, outcome.message)
      }
    }

    /** The verdict here, then a group commit through `Inbox.appendBatch` (PostgreSQL). */
    const verdictHere = Effect.map(
      GroupCommit.make<Inbox.NewInboundEvent, Inbox.AppendOutcome, StorageError | InvalidInput>({
        maxBatch: config.commitBatchSize,
        commit: (events) => Effect.tap(writer.appendBatch(events), () => Effect.sync(onCommitted))
      }),
      (committer): AdmitAndCommit =>
        (raw, answer) => {
          let verdict: Admission.Verdict
          try {
            verdict = admit(settings, raw, Date.now())
          } catch (error) {
            runFork(Effect.logError("ingest failed", String(error)))
            return answer(unavailable)
          }
          if (verdict._tag === "Reject") return answer(rejected(verdict))
          bump.verified()
          const eventId = verdict.event.eventId
          const event =
            raw.traceContext === undefined ? verdict.event : { ...verdict.event, traceContext: raw.traceContext }
          committer.submitCallback(event, (exit) => answer(committed(eventId, exit)))
        }
    )

    /** Verdict and commit on the writer's worker thread (SQLite): this thread only hands over the bytes. */
    const verdictInWriter = (admitCallback: NonNullable<InboxWriter.InboxWriterService["admitCallback"]>) =>
      Effect.map(
        GroupCommit.pipelined<Admission.RawInbound, Admission.AdmissionOutcome, StorageError>({
          chunk: handOverChunk,
          commit: (items, done) =>
            admitCallback(items, (exit) => {
              if (Exit.isSuccess(exit) && exit.value.some((o) => o._tag === "Stored" && o.outcome === "new"))
                onCommitted()
              done(exit)
            })
        }),
        (admitter): AdmitAndCommit =>
          (raw, answer) =>
            admitter.submitCallback(raw, (exit) => answer(admittedReply(raw, exit)))
      )

    /** After the body is read: a verdict and a commit, then `answer` — wherever the writer reaches verdicts. */
    const admitAndCommit: AdmitAndCommit =
      writer.admitCallback === undefined ? yield* verdictHere : yield* verdictInWriter(writer.admitCallback)

    /** The whole pipeline on callbacks; `answer` is called exactly once. */
    const ingest = (message: IncomingMessage, reply: (reply: Reply) => void) => {
      bump.received()
      const span = exporting ? ingestSpan(message.headers) : undefined
      const answer =
        span === undefined
          ? reply
          : (r: Reply) => {
              endSpan(span, r)
              reply(r)
            }
      if (RequestBody.declaredTooLarge(message.headers, limit)) return answer(reject("too_large", tooLarge))
      RequestBody.readNodeCallback(message, limit, (read) => {
        if (Either.isLeft(read)) {
          return answer(
            read.left._tag === "BodyTooLarge"
              ? reject("too_large", tooLarge)
              : reject("unreadable", problem(400, "unreadable_body", read.left.message))
          )
        }
        const headers = message.headers
        const raw = {
          id: header(headers, "webhook-id"),
          timestamp: header(headers, "webhook-timestamp"),
          signature: header(headers, "webhook-signature"),
          body: read.right
        }
        admitAndCommit(span === undefined ? raw : { ...raw, traceContext: traceparentOf(span) }, answer)
      })
    }

    // http_server_requests_total / duration for the fast path, as the Effect middleware records them.
    const httpLabels = new Map<number, ReadonlyArray<MetricLabel.MetricLabel>>()
    const labelsFor = (status: number) => {
      let labels = httpLabels.get(status)
      if (labels === undefined) {
        labels = [
          MetricLabel.make("method", "POST"),
          MetricLabel.make("route", path),
          MetricLabel.make("status", String(status))
        ]
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
