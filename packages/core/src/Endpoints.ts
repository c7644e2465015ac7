/**
 * The endpoint methods: each validates its input, prepares the request once it is valid, reads
 * the response with its status table (derived from the definition, see Responses.ts) and maps
 * the answer to its outcome — the only endpoint-specific part. Everything else a call does is the
 * shared pipeline (Pipeline.ts).
 */
import type { HttpApi, HttpApiGroup } from "@effect/platform"
import { Chunk, Effect, Either, Option, Schema, Stream } from "effect"
import { OrderProcessingFailed, ProductionBaseUrl } from "./Api.js"
import { type HlConnectOptions, resolvePolicy } from "./ClientConfig.js"
import type { AnsweredError, HlConnectService, ListAssetsError, OrderLineRef } from "./Contract.js"
import { OrderAlreadyExists, type TransientFailure } from "./Errors.js"
import { decodeInputEither, invalidRequest } from "./Input.js"
import {
  type AssetItem,
  AssetsListQuery,
  OrderLineQuery,
  OrderQuery,
  PurchaseInProcessingResponse,
  PurchaseRegisterRequest,
  PurchaseValidateBeforePaymentRequest
} from "./Models.js"
import {
  AlreadyRegistered,
  Completed,
  Failed,
  Processing,
  type PurchaseOutcome,
  Registered,
  type RegistrationOutcome
} from "./Outcomes.js"
import { makeCallPipeline } from "./Pipeline.js"
import { type Answer, type EndpointName, responseReader, unexpected } from "./Responses.js"
import { DefaultRetryPolicies, EndpointNames } from "./RetryPolicy.js"
import { makeAgent, makeHeaders, type PreparedRequest, type RawResponse } from "./Transport.js"

/** Turns the caller's input into the wire value, or an `InvalidRequest` naming the field (the one input rule). */
const validInput = <A, I>(schema: Schema.Schema<A, I>) => decodeInputEither(schema, invalidRequest)

const validValidateRequest = validInput(PurchaseValidateBeforePaymentRequest)
const validRegisterRequest = validInput(PurchaseRegisterRequest)
const validOrderRef = validInput(Schema.typeSchema(OrderQuery))
const validOrderLineRef = validInput(Schema.typeSchema(OrderLineQuery))
const validAssetsQuery = validInput(Schema.typeSchema(AssetsListQuery))

const queryString = (params: Readonly<Record<string, number | undefined>>) => {
  const parts: Array<string> = []
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) parts.push(`${key}=${value}`)
  }
  return parts.length === 0 ? "" : `?${parts.join("&")}`
}

/**
 * The call for valid input, or the input's problem. Decoding is pure, so it is decided when the
 * call is made rather than as a step of the call's fiber.
 */
const withValid = <A, E, B, E2, R>(
  valid: Either.Either<A, E>,
  call: (input: A) => Effect.Effect<B, E2, R>
): Effect.Effect<B, E | E2, R> => (Either.isLeft(valid) ? Effect.fail(valid.left) : call(valid.right))

/** An endpoint's reading of a response: its outcome, or an answered error, or a fault to retry. */
type Reading<A, N extends EndpointName> = Either.Either<A, AnsweredError<N> | TransientFailure>

/** The answer as it is: a declared success is the value, a declared error the failure. */
const asDeclared =
  <S, E>(read: (response: RawResponse) => Answer<S | undefined, E>) =>
  (response: RawResponse) => {
    const answer = read(response)
    if (answer._tag === "Success")
      return answer.value === undefined ? Either.left(unexpected(response)) : Either.right(answer.value)
    return Either.left(answer._tag === "Failure" ? answer.error : answer)
  }

// Outcomes are data without secrets, made once or from values the decoder already validated.
const registered = Registered.make({})
const alreadyRegistered = AlreadyRegistered.make({})
const processing = Processing.make({})

/** The order a call is about, as its span's attributes. */
const orderAttributes = (
  q:
    | { readonly order_number: number; readonly order_line_id: number }
    | { readonly order_id: number; readonly order_line_id?: number }
): Record<string, number> =>
  "order_number" in q
    ? { "hlconnect.order_number": q.order_number, "hlconnect.order_line_id": q.order_line_id }
    : q.order_line_id === undefined
      ? { "hlconnect.order_number": q.order_id }
      : { "hlconnect.order_number": q.order_id, "hlconnect.order_line_id": q.order_line_id }

/**
 * Whether a transient failure leaves open that HL Connect received (and acted on) the request:
 * every attempt that was sent may have, except one refused with 429 (refused before any work).
 * A 503, 502, 504, 500, 408, a timeout or a reset may come from a gateway that gave up while HL
 * Connect went on and registered the order.
 */
const mayHaveReached = (failure: TransientFailure): boolean => {
  switch (failure._tag) {
    case "RateLimited":
      return failure.status !== 429
    case "ConnectionFailed":
      return failure.mayHaveReachedServer
    default:
      return true
  }
}

/**
 * The client's methods over `definition` (in production `HlConnectApi`; tests pass one derived
 * from it to show that a status added there reaches the client with no edit here).
 */
export const makeClient = <Id extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  options: HlConnectOptions,
  definition: HttpApi.HttpApi<Id, G, E, R>
) =>
  Effect.gen(function* () {
    const base = new URL(options.baseUrl ?? ProductionBaseUrl)
    const pathPrefix = base.pathname.replace(/\/+$/, "")
    const policies = new Map(
      EndpointNames.map((name) => [name, resolvePolicy(DefaultRetryPolicies[name], options, name)])
    )
    const policyOf = (name: (typeof EndpointNames)[number]) => policies.get(name) ?? DefaultRetryPolicies[name]
    const dispatcher =
      options.dispatcher ??
      (yield* Effect.acquireRelease(
        Effect.sync(() => makeAgent({ connections: options.maxInFlight ?? 64, connectTimeoutMillis: 10_000 })),
        (agent) => Effect.promise(() => agent.close())
      ))
    const { endpoint, environment } = yield* makeCallPipeline({ options, dispatcher, origin: base.origin, policyOf })
    const headers = makeHeaders(options.accessToken)
    const reader = <N extends EndpointName>(name: N) => responseReader(name, definition)

    const get = (path: string, query: string): PreparedRequest => ({
      method: "GET",
      path: `${pathPrefix}${path}${query}`,
      headers: headers.get
    })
    const post = (path: string, payload: unknown): PreparedRequest => ({
      method: "POST",
      path: `${pathPrefix}${path}`,
      headers: headers.post,
      body: JSON.stringify(payload)
    })

    const readValidate = asDeclared(reader("validatePurchase"))
    const callValidate = endpoint("validatePurchase", "POST")
    const validatePurchase: HlConnectService["validatePurchase"] = (input) =>
      withValid(validValidateRequest(input), (payload) =>
        callValidate(post("/purchase/validate-purchase-before-payment", payload), readValidate)
      )

    const readRegister = reader("registerPurchase")
    const callRegister = endpoint("registerPurchase", "POST")
    const registerPurchase: HlConnectService["registerPurchase"] = (input, registerOptions) =>
      withValid(validRegisterRequest(input), (payload) =>
        Effect.suspend(() => {
          // Idempotency: once an attempt may have reached HL Connect, a 409 means our own earlier
          // attempt registered it. A 409 on a first, clean attempt is someone else's order.
          let mayHaveReachedServer = registerOptions?.mayHaveBeenSentBefore === true
          return callRegister(
            post("/purchase/register", payload),
            (response): Reading<RegistrationOutcome, "registerPurchase"> => {
              const answer = readRegister(response)
              if (answer._tag === "Success") return Either.right(registered)
              if (answer._tag === "Failure") {
                return mayHaveReachedServer && answer.error instanceof OrderAlreadyExists
                  ? Either.right(alreadyRegistered)
                  : Either.left(answer.error)
              }
              return Either.left(answer)
            },
            (failure) => {
              if (mayHaveReached(failure)) mayHaveReachedServer = true
            },
            orderAttributes(payload)
          )
        })
      )

    const readInfo = reader("purchaseInfo")
    const callInfo = endpoint("purchaseInfo", "GET")
    const handleInfo = (response: RawResponse): Reading<PurchaseOutcome, "purchaseInfo"> => {
      // The body is optional in practice: an empty 202 still means "processing".
      if (response.status === 202 && response.body.trim() === "") return Either.right(processing)
      const answer = readInfo(response)
      switch (answer._tag) {
        case "Success": {
          const body = answer.value
          if (body === undefined) return Either.left(unexpected(response))
          // Decoded (and so validated) already: the outcomes skip their constructor's check.
          return Either.right(
            body instanceof PurchaseInProcessingResponse
              ? body.status === undefined
                ? processing
                : Processing.make({ status: body.status }, true)
              : Completed.make({ items: body }, true)
          )
        }
        case "Failure": {
          const error = answer.error
          if (!(error instanceof OrderProcessingFailed)) return Either.left(error)
          // HL Connect's own verdict, or a gateway's 502 (HTML, empty, foreign JSON): only the
          // documented JSON with its `status` is `Failed`; anything else is transient.
          return error.status === undefined
            ? Either.left(unexpected(response))
            : Either.right(
                Failed.make(
                  error.message === undefined
                    ? { status: error.status }
                    : { status: error.status, message: error.message },
                  true
                )
              )
        }
        default:
          return Either.left(answer)
      }
    }
    const purchaseInfo: HlConnectService["purchaseInfo"] = (input) =>
      withValid(validOrderRef(input), (query) =>
        callInfo(get("/purchase/info", `?order_id=${query.order_id}`), handleInfo, undefined, orderAttributes(query))
      )

    const orderLineQuery = (query: OrderLineRef) => `?order_id=${query.order_id}&order_line_id=${query.order_line_id}`
    const readDownloadUrl = asDeclared(reader("downloadUrl"))
    const callDownloadUrl = endpoint("downloadUrl", "GET")
    const downloadUrl: HlConnectService["downloadUrl"] = (input) =>
      withValid(validOrderLineRef(input), (query) =>
        callDownloadUrl(
          get("/purchase/download-url", orderLineQuery(query)),
          readDownloadUrl,
          undefined,
          orderAttributes(query)
        )
      )
    const readViewUrl = asDeclared(reader("viewUrl"))
    const callViewUrl = endpoint("viewUrl", "GET")
    const viewUrl: HlConnectService["viewUrl"] = (input) =>
      withValid(validOrderLineRef(input), (query) =>
        callViewUrl(get("/purchase/view-url", orderLineQuery(query)), readViewUrl, undefined, orderAttributes(query))
      )

    const readCancel = reader("cancelOrderLine")
    const callCancel = endpoint("cancelOrderLine", "DELETE")
    const handleCancel = (response: RawResponse): Reading<void, "cancelOrderLine"> => {
      const answer = readCancel(response)
      if (answer._tag === "Success") return Either.right(undefined)
      return Either.left(answer._tag === "Failure" ? answer.error : answer)
    }
    const cancelOrderLine: HlConnectService["cancelOrderLine"] = (input) =>
      withValid(validOrderLineRef(input), (query) =>
        callCancel(
          { method: "DELETE", path: `${pathPrefix}/purchase/cancel${orderLineQuery(query)}`, headers: headers.get },
          handleCancel,
          undefined,
          orderAttributes(query)
        )
      )

    const readAssets = asDeclared(reader("listAssets"))
    const callAssets = endpoint("listAssets", "GET")
    const listAssets: HlConnectService["listAssets"] = (input = {}) =>
      withValid(validAssetsQuery(input), (query) =>
        callAssets(get("/assets/list", queryString({ page_size: query.page_size, last_id: query.last_id })), readAssets)
      )

    const assets: HlConnectService["assets"] = (input = {}): Stream.Stream<AssetItem, ListAssetsError> =>
      Stream.paginateChunkEffect(0, (lastId) =>
        Effect.map(
          listAssets(
            input.pageSize === undefined ? { last_id: lastId } : { page_size: input.pageSize, last_id: lastId }
          ),
          (page) =>
            [
              Chunk.unsafeFromArray(page.assets),
              page.next_page === null || page.last_id === null || page.assets.length === 0
                ? Option.none()
                : Option.some(page.last_id)
            ] as const
        )
      )

    const readHealth = asDeclared(reader("health"))
    const callHealth = endpoint("health", "GET")
    const health: HlConnectService["health"] = () =>
      callHealth({ method: "GET", path: `${pathPrefix}/health`, headers: headers.unauthenticated }, readHealth)

    const client: HlConnectService = {
      validatePurchase,
      registerPurchase,
      purchaseInfo,
      downloadUrl,
      viewUrl,
      cancelOrderLine,
      listAssets,
      assets,
      health,
      environment,
      retryPolicy: policyOf
    }
    return client
  })
