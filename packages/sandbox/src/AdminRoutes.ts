/**
 * The sandbox's own routes, beside HL Connect's: control over faults, what it has seen, and the
 * download/view URLs it hands out (which expire like the real ones).
 *
 * - `GET  /_sandbox/stats`            requests, responses, registrations per (order, line), faults
 * - `GET  /_sandbox/faults`           current fault settings
 * - `PUT  /_sandbox/faults`           replace fault settings (FaultSettings JSON)
 * - `POST /_sandbox/faults/script`    append scripted faults (ScriptedFault[] JSON), each fired once
 * - `POST /_sandbox/reset`            back to the configured faults, counters zeroed
 * - `GET  /nf/download/:id`, `/nf/view/:id`   200 while the URL is valid, 410 once it expired
 */
import { HttpApiBuilder, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Schema } from "effect"
import { FaultSettings, ScriptedFault } from "./Faults.js"
import { SandboxState } from "./SandboxState.js"

const badRequest = (error: { readonly message: string }) =>
  HttpServerResponse.unsafeJson({ error: "BadRequest", message: error.message }, { status: 400 })

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
    yield* router.get("/_sandbox/stats", Effect.flatMap(state.stats, HttpServerResponse.json))
    yield* router.get(
      "/_sandbox/faults",
      Effect.flatMap(state.getFaults, (faults) => HttpServerResponse.json(Schema.encodeSync(FaultSettings)(faults)))
    )
    yield* router.put(
      "/_sandbox/faults",
      HttpServerRequest.schemaBodyJson(FaultSettings).pipe(
        Effect.flatMap(state.setFaults),
        Effect.as(HttpServerResponse.empty({ status: 204 })),
        Effect.catchTags({ ParseError: badRequest, RequestError: badRequest })
      )
    )
    yield* router.post(
      "/_sandbox/faults/script",
      HttpServerRequest.schemaBodyJson(Schema.Array(ScriptedFault)).pipe(
        Effect.flatMap(state.scriptFaults),
        Effect.as(HttpServerResponse.empty({ status: 204 })),
        Effect.catchTags({ ParseError: badRequest, RequestError: badRequest })
      )
    )
    yield* router.post("/_sandbox/reset", Effect.as(state.resetFaultsAndStats, HttpServerResponse.empty({ status: 204 })))
    yield* router.get("/nf/download/:id", issuedUrl(state, "download"))
    yield* router.get("/nf/view/:id", issuedUrl(state, "view"))
  })
)
