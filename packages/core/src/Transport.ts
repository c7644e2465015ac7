/**
 * The transport: one HTTP attempt over undici's dispatcher, the floor for Node (see the repo's
 * bench), and the request headers. The attempt deadline is one native timer that aborts the
 * request (plus undici's own connect / headers / body timeouts), instead of a racing
 * `Effect.timeout` fiber, which costs ~250 µs of CPU per call.
 */
import { Context, Effect, Option, Redacted, Tracer } from "effect"
import { Agent, type Dispatcher } from "undici"
import { AttemptTimedOut, ConnectionFailed } from "./Errors.js"

export interface PreparedRequest {
  readonly method: "GET" | "POST" | "DELETE"
  /** Path and query, already encoded, e.g. `/purchase/info?order_id=1`. */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
}

export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: string
}

export const makeAgent = (options: { readonly connections: number; readonly connectTimeoutMillis: number }) =>
  new Agent({
    connections: options.connections,
    keepAliveTimeout: 30_000,
    connect: { timeout: options.connectTimeoutMillis }
  })

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT"])
/** Failures that happen before anything was written: the server cannot have seen the request. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT"
])

/** TLS failures: the handshake never completed, so no request was written either. */
const isTlsFailure = (code: string) =>
  code.startsWith("ERR_TLS_") ||
  code.startsWith("ERR_SSL_") ||
  code.startsWith("CERT_") ||
  code.startsWith("UNABLE_TO_") ||
  code === "DEPTH_ZERO_SELF_SIGNED_CERT" ||
  code === "SELF_SIGNED_CERT_IN_CHAIN" ||
  code === "HOSTNAME_MISMATCH"

const errorCode = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null) return undefined
  if ("code" in cause && typeof cause.code === "string") return cause.code
  if ("cause" in cause) return errorCode(cause.cause)
  return undefined
}

const errorMessage = (cause: unknown): string =>
  cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)

export const classifyTransportError = (cause: unknown, timeoutMillis: number): ConnectionFailed | AttemptTimedOut => {
  const code = errorCode(cause)
  if (code !== undefined && TIMEOUT_CODES.has(code) && code !== "UND_ERR_CONNECT_TIMEOUT") {
    return new AttemptTimedOut({ timeoutMillis })
  }
  return new ConnectionFailed({
    message: code === undefined ? errorMessage(cause) : `${code} (${errorMessage(cause)})`,
    mayHaveReachedServer: code === undefined || !(NOT_SENT_CODES.has(code) || isTlsFailure(code))
  })
}

/**
 * The request headers of this client, made once: the token is unwrapped only here, into headers
 * that never leave the client. Headers that differ per request (trace propagation, say) belong in
 * `send`, the one place every request passes.
 */
export const makeHeaders = (accessToken: Redacted.Redacted<string>) => {
  const unauthenticated = { accept: "application/json", "user-agent": "hlconnect-core" }
  const get = { ...unauthenticated, authorization: `Bearer ${Redacted.value(accessToken)}` }
  const post = { ...get, "content-type": "application/json" }
  return { unauthenticated, get, post } as const
}

/**
 * Sends one request and reads the whole body, straight through undici's `dispatch` handler API:
 * no promise, no `Readable` body stream, no `AbortController` (undici.request makes all three,
 * and they were a third of the client's CPU per call). The attempt deadline is one native timer
 * that aborts the request; interrupting the fiber aborts it too.
 */
export const send = (
  dispatcher: Dispatcher,
  origin: string,
  request: PreparedRequest,
  timeoutMillis: number
): Effect.Effect<RawResponse, ConnectionFailed | AttemptTimedOut> =>
  Effect.async<RawResponse, ConnectionFailed | AttemptTimedOut>((resume) => {
    let done = false
    let controller: Dispatcher.DispatchController | undefined
    /** Why the request was abandoned before undici handed us its controller (then aborted there). */
    let abandoned: Error | undefined
    let status = 0
    let headers: RawResponse["headers"] = {}
    const chunks: Array<Buffer> = []
    const abandon = (reason: Error) => {
      if (controller === undefined) abandoned = reason
      else if (!controller.aborted) controller.abort(reason)
    }
    const finish = (result: Effect.Effect<RawResponse, ConnectionFailed | AttemptTimedOut>) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resume(result)
    }
    // undici's headers/body timeouts run on its coarse "fast timers" (~1 s resolution) and reset
    // on every chunk, so alone they neither keep a short deadline nor bound the whole attempt.
    const timer = setTimeout(() => {
      finish(Effect.fail(new AttemptTimedOut({ timeoutMillis })))
      abandon(new Error(`attempt timed out after ${timeoutMillis} ms`))
    }, timeoutMillis)
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: (started) => {
        controller = started
        if (abandoned !== undefined) started.abort(abandoned)
      },
      onResponseStart: (_controller, statusCode, responseHeaders) => {
        status = statusCode
        headers = responseHeaders
        chunks.length = 0
      },
      onResponseData: (_controller, chunk) => {
        chunks.push(chunk)
      },
      onResponseEnd: () => {
        const body = chunks.length === 1 ? (chunks[0]?.toString("utf8") ?? "") : Buffer.concat(chunks).toString("utf8")
        finish(Effect.succeed({ status, headers, body }))
      },
      onResponseError: (_controller, error) => {
        finish(Effect.fail(classifyTransportError(error, timeoutMillis)))
      }
    }
    dispatcher.dispatch(
      {
        origin,
        path: request.path,
        method: request.method,
        headers: request.headers,
        body: request.body ?? null,
        headersTimeout: timeoutMillis,
        bodyTimeout: timeoutMillis
      },
      handler
    )
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
      abandon(new Error("interrupted"))
    })
  })

/** The W3C `traceparent` naming `span` as the parent of whatever receives it. */
export const traceparentOf = (span: Tracer.AnySpan): string =>
  `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/**
 * `send`, inside the span the attempt runs in: the call's `HlConnect.<endpoint>` span when a
 * tracer is installed (handed in as `span`), else whatever span the caller's context holds. The
 * request carries its W3C `traceparent`, so HL Connect's side of the call joins our trace as the
 * client span's child, and the span records the response status. As is without a span.
 */
export const sendInSpan = (
  dispatcher: Dispatcher,
  origin: string,
  request: PreparedRequest,
  timeoutMillis: number,
  span: Tracer.Span | undefined
): Effect.Effect<RawResponse, ConnectionFailed | AttemptTimedOut> =>
  span !== undefined
    ? sendIn(span, dispatcher, origin, request, timeoutMillis)
    : // One step of the fiber reads the caller's span (`serviceOption` takes five).
      Effect.contextWithEffect((context) => {
        const parent = Context.getOption(context, Tracer.ParentSpan)
        return Option.isNone(parent)
          ? send(dispatcher, origin, request, timeoutMillis)
          : sendIn(parent.value, dispatcher, origin, request, timeoutMillis)
      })

const sendIn = (
  span: Tracer.AnySpan,
  dispatcher: Dispatcher,
  origin: string,
  request: PreparedRequest,
  timeoutMillis: number
): Effect.Effect<RawResponse, ConnectionFailed | AttemptTimedOut> => {
  const traced = { ...request, headers: { ...request.headers, traceparent: traceparentOf(span) } }
  const sent = send(dispatcher, origin, traced, timeoutMillis)
  return span._tag === "Span"
    ? Effect.tap(sent, (response) => span.attribute("http.response.status_code", response.status))
    : sent
}
