/**
 * The sandbox's own routes, beside HL Connect's: control over faults, what it has seen, and the
 * download/view URLs it hands out (which expire like the real ones).
 *
 * - `GET  /_sandbox/stats`            requests, responses, registrations per (order, line), faults,
 *                                     requests abandoned by their client;
 *                                     without a token, counts only (no order numbers or line ids)
 * - `GET  /_sandbox/faults`           current fault settings (token)
 * - `PUT  /_sandbox/faults`           replace fault settings (FaultSettings JSON; token, JSON)
 * - `POST /_sandbox/faults/script`    append scripted faults (ScriptedFault[] JSON), each fired once (token, JSON)
 * - `POST /_sandbox/reset`            back to the configured faults, counters zeroed (token; a body, if any, JSON)
 * - `GET  /nf/download/:id`, `/nf/view/:id`   200 while the URL is valid, 410 once it expired (open:
 *                                     the URLs are the credentials)
 *
 * The controls take the sandbox's own bearer tokens (`SANDBOX_TOKENS`) and, when they change
 * something, `Content-Type: application/json`: a web page open in a developer's browser can
 * neither set the header nor know the token, so it cannot inject faults by CSRF.
 */
import { HttpApiBuilder, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Schema } from "effect"
import { FaultSettings, ScriptedFault } from "./Faults.js"
import { SandboxState } from "./SandboxState.js"

const problem = (status: number, error: string, message: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson({ error, message }, { status, headers: { "cache-control": "no-store", ...headers } })

const badRequest = (error: { readonly message: string }) => problem(400, "BadRequest", error.message)

const unauthorized = problem(
  401,
  "Unauthorized",
  "the sandbox's controls need Authorization: Bearer <one of SANDBOX_TOKENS>",
  {
    "www-authenticate": 'Bearer realm="sandbox"'
  }
)

const unsupportedMediaType = problem(
  415,
  "UnsupportedMediaType",
  "the sandbox's controls take Content-Type: application/json"
)

/** `application/json`, parameters (charset) allowed, case-insensitive. */
const isJson = (contentType: string | undefined) =>
  contentType?.split(";")[0]?.trim().toLowerCase() === "application/json"

/** A request that announces no body at all (no type, no length or a zero one, not chunked). */
const hasNoBody = (request: HttpServerRequest.HttpServerRequest) =>
  request.headers["content-type"] === undefined &&
  request.headers["transfer-encoding"] === undefined &&
  (request.headers["content-length"] ?? "0") === "0"

type Body = "json" | "json-if-any" | "none"

const issuedUrl = (state: SandboxState, kind: "download" | "view") =>
  Effect.gen(function* () {
    const { id } = yield* HttpRouter.params
    const validity = yield* state.resolveUrl(kind, id ?? "")
    switch (validity) {
      case "valid":
        return HttpServerResponse.text(`sandbox ${kind} of an HL Connect asset\n`)
      case "expired":
        return HttpServerResponse.text("this URL has expired; ask HL Connect for a fresh one\n", { status: 410 })
      case "unknown":
        return HttpServerResponse.text("not found\n", { status: 404 })
    }
  })

export const AdminRoutesLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    const state = yield* SandboxState

    /** 401 without a valid token, then 415 unless the body (required or present) is JSON; then `handler`. */
    const control = <E, R>(body: Body, handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        if (!state.authorize(request.headers.authorization)) return Effect.succeed(unauthorized)
        const jsonOk =
          body === "none" || isJson(request.headers["content-type"]) || (body === "json-if-any" && hasNoBody(request))
        return jsonOk ? handler : Effect.succeed(unsupportedMediaType)
      })

    yield* router.get(
      "/_sandbox/stats",
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const stats = yield* state.stats
        if (state.authorize(request.headers.authorization)) return yield* HttpServerResponse.json(stats)
        // Without the token: how much, never which orders or lines.
        const registrations = Object.values(stats.registrations)
        return yield* HttpServerResponse.json({
          requests: stats.requests,
          responses: stats.responses,
          faults: stats.faults,
          abandoned: stats.abandoned,
          registered_lines: registrations.length,
          registrations_total: registrations.reduce((a, b) => a + b, 0)
        })
      })
    )
    yield* router.get(
      "/_sandbox/faults",
      control(
        "none",
        Effect.flatMap(state.getFaults, (faults) => HttpServerResponse.json(Schema.encodeSync(FaultSettings)(faults)))
      )
    )
    yield* router.put(
      "/_sandbox/faults",
      control(
        "json",
        HttpServerRequest.schemaBodyJson(FaultSettings).pipe(
          Effect.flatMap(state.setFaults),
          Effect.as(HttpServerResponse.empty({ status: 204 })),
          Effect.catchTags({ ParseError: badRequest, RequestError: badRequest })
        )
      )
    )
    yield* router.post(
      "/_sandbox/faults/script",
      control(
        "json",
        HttpServerRequest.schemaBodyJson(Schema.Array(ScriptedFault)).pipe(
          Effect.flatMap(state.scriptFaults),
          Effect.as(HttpServerResponse.empty({ status: 204 })),
          Effect.catchTags({ ParseError: badRequest, RequestError: badRequest })
        )
      )
    )
    yield* router.post(
      "/_sandbox/reset",
      control("json-if-any", Effect.as(state.resetFaultsAndStats, HttpServerResponse.empty({ status: 204 })))
    )
    yield* router.get("/nf/download/:id", issuedUrl(state, "download"))
    yield* router.get("/nf/view/:id", issuedUrl(state, "view"))
  })
)
