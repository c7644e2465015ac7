/**
 * Raw calls to HL Connect with `fetch`, so the contract sees what the client would hide:
 * statuses, headers, content types and bodies as sent. Every answer is checked against the
 * endpoint's documented statuses and walked for drift (`DriftLedger`) before a check reads it.
 * Bodies and URLs are never logged: download and view URLs are credentials.
 */
import { Effect, Option, Redacted, SchemaAST } from "effect"
import type { DriftLedger } from "./Drift.js"
import type { EndpointName } from "@hlconnect/core"
import { endpoint, expectsEmptyBody } from "./Endpoints.js"
import { ContractCannotRun } from "./Errors.js"

export interface Target {
  readonly baseUrl: URL
  readonly token: Redacted.Redacted<string>
}

export interface Request {
  readonly query?: Readonly<Record<string, string | number>>
  readonly body?: unknown
  /** Overrides the target's token (the 401 check). */
  readonly token?: Redacted.Redacted<string>
  /** `GET /health` is the only call without a token. */
  readonly anonymous?: boolean
}

export interface Answer {
  readonly status: number
  /** The parsed JSON body, when the body is JSON. */
  readonly json: Option.Option<unknown>
  /** Whether the status is one the endpoint documents. */
  readonly documented: boolean
}

const AttemptTimeoutMillis = 30_000

const urlOf = (baseUrl: URL, path: string, query: Request["query"]): URL => {
  const url = new URL(baseUrl)
  url.pathname = `${url.pathname.replace(/\/+$/, "")}${path}`
  url.search = ""
  for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, String(value))
  return url
}

const causeCode = (cause: unknown): string => {
  if (typeof cause !== "object" || cause === null) return String(cause)
  if ("code" in cause && typeof cause.code === "string") return cause.code
  if ("cause" in cause && cause.cause !== undefined) return causeCode(cause.cause)
  return cause instanceof Error ? cause.message : String(cause)
}

const parseJson = (text: string): Option.Option<unknown> => {
  try {
    return Option.some(JSON.parse(text))
  } catch {
    return Option.none()
  }
}

/** One call of `name`, recorded in `ledger`. Fails only when no answer came at all. */
export const call = (
  target: Target,
  ledger: DriftLedger,
  name: EndpointName,
  request: Request = {}
): Effect.Effect<Answer, ContractCannotRun> =>
  Effect.gen(function* () {
    const documented = endpoint(name)
    const url = urlOf(target.baseUrl, documented.path, request.query)
    const headers: Record<string, string> = { accept: "application/json" }
    if (request.anonymous !== true) headers.authorization = `Bearer ${Redacted.value(request.token ?? target.token)}`
    if (request.body !== undefined) headers["content-type"] = "application/json"
    const response = yield* Effect.tryPromise({
      try: async (signal) => {
        const answer = await fetch(url, {
          method: documented.method,
          headers,
          // A redirect is an answer to report, not to follow (with the token) somewhere else.
          redirect: "manual",
          signal: AbortSignal.any([signal, AbortSignal.timeout(AttemptTimeoutMillis)]),
          ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) })
        })
        return { status: answer.status, headers: answer.headers, text: await answer.text() }
      },
      catch: (cause) =>
        new ContractCannotRun({
          message: `${documented.label}: no answer from ${target.baseUrl.origin} (${causeCode(cause)})`
        })
    })
    const { status, text } = response
    const contentType = response.headers.get("content-type") ?? undefined
    const json = parseJson(text)
    if (status >= 200 && status < 300)
      ledger.environment(documented.label, status, response.headers.get("x-environment") ?? undefined)
    const schemas = documented.statuses.get(status)
    if (schemas === undefined) {
      ledger.add(documented.label, status, {
        severity: "breaking",
        kind: "undocumented-status",
        path: "",
        detail: `status ${status} is not documented (documented: ${[...documented.statuses.keys()].sort((a, b) => a - b).join(", ")})`
      })
      return { status, json, documented: false }
    }
    if (schemas.every(expectsEmptyBody)) {
      if (text.length > 0) {
        ledger.add(documented.label, status, {
          severity: "warning",
          kind: "unexpected-body",
          path: "",
          detail: `a ${text.length}-byte body where the spec documents none (${contentType ?? "no content type"})`
        })
      }
      return { status, json, documented: true }
    }
    if (Option.isNone(json)) {
      ledger.add(documented.label, status, {
        severity: "breaking",
        kind: "non-json-body",
        path: "",
        detail: `a ${text.length}-byte ${contentType ?? "untyped"} body that is not JSON`
      })
      return { status, json, documented: true }
    }
    if (contentType === undefined || !/^application\/json\b/i.test(contentType)) {
      ledger.add(documented.label, status, {
        severity: "warning",
        kind: "content-type",
        path: "",
        detail: `JSON sent as ${contentType ?? "no content type"}, not application/json`
      })
    }
    const model = schemas.length === 1 && schemas[0] !== undefined ? schemas[0] : SchemaAST.Union.make(schemas)
    ledger.walkBody(documented.label, status, model, json.value)
    return { status, json, documented: true }
  })
