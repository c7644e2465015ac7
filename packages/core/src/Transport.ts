/**
 * One HTTP attempt over undici: the floor for Node, measured (see the repo's bench). The
 * attempt deadline is one native timer that aborts the request (plus undici's own connect /
 * headers / body timeouts), instead of a racing `Effect.timeout` fiber, which costs ~250 µs of
 * CPU per call.
 */
import { Effect, Option, Tracer } from "effect"
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

/** The W3C `traceparent` naming `span` as the parent of whatever receives it. */
export const traceparentOf = (span: Tracer.AnySpan): string => `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/**
 * `request` with the W3C `traceparent` of the span it is sent in, so HL Connect's side of the
 * call joins our trace as the client span's child; as is without a span.
 */
export const withTraceContext = (request: PreparedRequest): Effect.Effect<PreparedRequest> =>
  Effect.map(Effect.serviceOption(Tracer.ParentSpan), (span) =>
    Option.isNone(span) ? request : { ...request, headers: { ...request.headers, traceparent: traceparentOf(span.value) } }
  )

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT"])
/** Failures that happen before anything was written: the server cannot have seen the request. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"])

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

/** Sends one request and reads the whole body. Interrupting the fiber aborts the request. */
export const send = (
  dispatcher: Dispatcher,
  origin: string,
  request: PreparedRequest,
  timeoutMillis: number
): Effect.Effect<RawResponse, ConnectionFailed | AttemptTimedOut> =>
  Effect.suspend(() => {
    // undici's headers/body timeouts run on its coarse "fast timers" (~1 s resolution) and reset
    // on every chunk, so alone they neither keep a short deadline nor bound the whole attempt.
    // One native timer per attempt does both; it aborts the request when it fires.
    let timedOut = false
    return Effect.tryPromise({
      try: async (signal) => {
        const controller = new AbortController()
        const onAbort = () => controller.abort(signal.reason)
        signal.addEventListener("abort", onAbort, { once: true })
        const timer = setTimeout(() => {
          timedOut = true
          controller.abort()
        }, timeoutMillis)
        try {
          const response = await dispatcher.request({
            origin,
            path: request.path,
            method: request.method,
            headers: request.headers,
            body: request.body ?? null,
            headersTimeout: timeoutMillis,
            bodyTimeout: timeoutMillis,
            signal: controller.signal
          })
          const body = await response.body.text()
          return { status: response.statusCode, headers: response.headers, body }
        } finally {
          clearTimeout(timer)
          signal.removeEventListener("abort", onAbort)
        }
      },
      catch: (cause) => (timedOut ? new AttemptTimedOut({ timeoutMillis }) : classifyTransportError(cause, timeoutMillis))
    })
  })
