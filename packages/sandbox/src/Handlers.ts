/**
 * HL Connect's endpoints, implemented on `SandboxState` with `HttpApiBuilder` from the very
 * definition the client uses: the wire format is derived, not retyped.
 */
import { HttpApiBuilder, type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Authorization, HealthItem, HlConnectApi, PurchaseInProcessingResponse, Unauthorized } from "@hlconnect/core"
import { BearerAuth } from "@hlconnect/service"
import { Effect, Layer } from "effect"
import { SandboxState } from "./SandboxState.js"

/** URLs the sandbox hands out point back at itself, at the address the client used. */
export const publicBaseUrl = (request: HttpServerRequest.HttpServerRequest) =>
  `http://${request.headers.host ?? "127.0.0.1"}`

export const AuthorizationLive = Layer.effect(
  Authorization,
  Effect.map(SandboxState, (state) =>
    Authorization.of({
      // The raw header, read by the one bearer rule (the middleware's own parse only slices a prefix off).
      bearer: () =>
        BearerAuth.authorizeRequest(state, () => new Unauthorized({ message: "missing or invalid bearer token" }))
    })
  )
)

export const PurchaseLive = HttpApiBuilder.group(HlConnectApi, "purchase", (handlers) =>
  Effect.map(SandboxState, (state) =>
    handlers
      .handle("validatePurchase", ({ payload }) => state.validatePurchase(payload))
      .handle("registerPurchase", ({ payload }) => state.registerPurchase(payload))
      .handle("purchaseInfo", ({ urlParams, request }) =>
        Effect.map(state.purchaseInfo(urlParams.order_id, publicBaseUrl(request)), (answer) =>
          // 202 is answered explicitly: its schema and 200's both come back from one union.
          answer === "PROCESSING"
            ? HttpServerResponse.unsafeJson(PurchaseInProcessingResponse.make({ status: "PROCESSING" }), {
                status: 202
              })
            : answer
        )
      )
      .handle("downloadUrl", ({ urlParams, request }) =>
        state.downloadUrl(urlParams.order_id, urlParams.order_line_id, publicBaseUrl(request))
      )
      .handle("viewUrl", ({ urlParams, request }) =>
        state.viewUrl(urlParams.order_id, urlParams.order_line_id, publicBaseUrl(request))
      )
      .handle("cancelOrderLine", ({ urlParams }) => state.cancelOrderLine(urlParams.order_id, urlParams.order_line_id))
  )
)

export const AssetsLive = HttpApiBuilder.group(HlConnectApi, "assets", (handlers) =>
  Effect.map(SandboxState, (state) =>
    handlers.handle("listAssets", ({ urlParams, request }) =>
      Effect.succeed(state.listAssets(urlParams.page_size ?? 20, urlParams.last_id ?? 0, publicBaseUrl(request)))
    )
  )
)

export const HealthLive = HttpApiBuilder.group(HlConnectApi, "health", (handlers) =>
  handlers.handle("health", () =>
    Effect.succeed([HealthItem.make({ name: "api", health: true }), HealthItem.make({ name: "dam", health: true })])
  )
)

export const SandboxApiLive = HttpApiBuilder.api(HlConnectApi).pipe(
  Layer.provide([PurchaseLive, AssetsLive, HealthLive]),
  Layer.provide(AuthorizationLive)
)
