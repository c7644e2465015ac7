/**
 * The HL Connect client: one method per endpoint of `HlConnectApi`, each a typed Effect with
 * its own retry policy and exactly the tagged errors its endpoint can produce.
 *
 * Requests go to the definition's paths with the definition's schemas; responses are decoded by
 * status with the same schemas. It does its own response handling, rather than `HttpApiClient`'s,
 * so that every failure keeps its status and headers (Retry-After, X-Environment) and a body that
 * is not the documented JSON becomes `UnexpectedResponse` instead of a raw `ParseError`.
 */
import { Cause, Chunk, Clock, type Config, Duration, Effect, type Exit, Layer, Metric, MetricBoundaries, MetricLabel, Option, ParseResult, Redacted, Schema, Stream } from "effect"
import {
  AssetNotFoundWire,
  ProductionBaseUrl,
  BadRequestWire,
  ForbiddenWire,
  InvalidOrderStatusWire,
  OrderAlreadyExistsWire,
  OrderNotFoundWire,
  OrderProcessingFailedWire,
  ServerErrorWire,
  UnauthorizedWire,
  ValidationRejectedWire
} from "./Api.js"
import { type HlConnectOptions, HlConnectConfig, resolvePolicy } from "./ClientConfig.js"
import {
  type AssetNotFound,
  type BadRequest,
  EnvironmentMismatch,
  type Forbidden,
  HlConnectUnavailable,
  type InvalidOrderStatus,
  InvalidRequest,
  type OrderAlreadyExists,
  type OrderNotFound,
  RateLimited,
  type TransientFailure,
  type Unauthorized,
  UnexpectedResponse,
  type ValidationRejected
} from "./Errors.js"
import {
  type AssetItem,
  AssetsListQuery,
  AssetsListResponse,
  type HealthItem,
  DownloadUrl,
  HealthItems,
  OrderItems,
  OrderLineQuery,
  OrderQuery,
  PurchaseInProcessingResponse,
  PurchaseRegisterRequest,
  PurchaseValidateBeforePaymentRequest,
  ValidationToken,
  ViewUrl
} from "./Models.js"
import { AlreadyRegistered, Completed, Failed, type PurchaseOutcome, Processing, Registered, type RegistrationOutcome } from "./Outcomes.js"
import { DefaultRetryPolicies, type EndpointName, EndpointNames, isTransient, parseRetryAfter, type RetryPolicy, retrySchedule, retryWhile } from "./RetryPolicy.js"
import { makeAgent, type PreparedRequest, type RawResponse, send, withTraceContext } from "./Transport.js"

/** Failures any call can end with once its own answers are exhausted. */
export type CallError = HlConnectUnavailable | UnexpectedResponse | EnvironmentMismatch

export type ValidatePurchaseError = InvalidRequest | Unauthorized | BadRequest | AssetNotFound | ValidationRejected | CallError
export type RegisterPurchaseError = InvalidRequest | Unauthorized | AssetNotFound | OrderAlreadyExists | ValidationRejected | CallError
export type PurchaseInfoError = InvalidRequest | Unauthorized | OrderNotFound | CallError
export type OrderLineUrlError = InvalidRequest | Unauthorized | OrderNotFound | CallError
export type CancelOrderLineError = InvalidRequest | Unauthorized | InvalidOrderStatus | OrderNotFound | CallError
export type ListAssetsError = InvalidRequest | Unauthorized | Forbidden | CallError
export type HealthError = CallError

export interface OrderRef {
  readonly order_id: number
}
export interface OrderLineRef {
  readonly order_id: number
  readonly order_line_id: number
}
export interface RegisterOptions {
  /**
   * Set when this registration may have been sent before — by a process that crashed mid-call,
   * say. A 409 then means "already registered" and succeeds as `AlreadyRegistered`.
   */
  readonly mayHaveBeenSentBefore?: boolean
}

const EXCERPT_LENGTH = 300
/** Bodies may hold download/view URLs, which are credentials: never let one into an error. */
const redactUrls = (text: string) => text.replace(/https?:(?:\\?\/){2}[^\s"'<>]+/g, "<url redacted>")
const excerptOf = (body: string) => redactUrls(body.slice(0, EXCERPT_LENGTH * 2)).slice(0, EXCERPT_LENGTH)

const unexpected = (response: RawResponse) =>
  new UnexpectedResponse({ status: response.status, excerpt: excerptOf(response.body) })

/** Decodes a response body with a schema; anything but the documented JSON is `UnexpectedResponse`. */
const bodyAs = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (response: RawResponse): Effect.Effect<A, UnexpectedResponse> => {
    let json: unknown
    try {
      json = JSON.parse(response.body)
    } catch {
      return Effect.fail(unexpected(response))
    }
    const decoded = decode(json)
    return decoded._tag === "Right" ? Effect.succeed(decoded.right) : Effect.fail(unexpected(response))
  }
}

/** A documented error status: decode its ErrorResponse into the tagged error and fail with it. */
const failWith = <E, I>(schema: Schema.Schema<E, I>) => {
  const decode = bodyAs(schema)
  // The server's message lands in the error: redact URLs first (JSON stays valid: they end at a quote).
  return (response: RawResponse): Effect.Effect<never, E | UnexpectedResponse> =>
    Effect.flatMap(decode({ ...response, body: redactUrls(response.body) }), Effect.fail)
}

const firstHeader = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]

/** Turns the caller's input into the wire value, or an `InvalidRequest` naming the field. */
const validInput = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "first" })
  return (input: unknown): Effect.Effect<A, InvalidRequest> => {
    const decoded = decode(input)
    if (decoded._tag === "Right") return Effect.succeed(decoded.right)
    const [issue] = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
    const field = issue === undefined || issue.path.length === 0 ? "(input)" : issue.path.join(".")
    // The message names the field too: it is what ends up in logs and in `String(error)`.
    return Effect.fail(new InvalidRequest({ field, message: `${field}: ${issue?.message ?? "invalid input"}` }))
  }
}

const queryString = (params: Readonly<Record<string, number | undefined>>) => {
  const parts: Array<string> = []
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) parts.push(`${key}=${value}`)
  }
  return parts.length === 0 ? "" : `?${parts.join("&")}`
}

const decodeUnauthorized = failWith(UnauthorizedWire)
const decodeServerError = failWith(ServerErrorWire)
const decodeValidationToken = bodyAs(ValidationToken)
const decodeOrderItems = bodyAs(OrderItems)
const decodeProcessing = bodyAs(PurchaseInProcessingResponse)
const decodeFailed = bodyAs(OrderProcessingFailedWire)
const decodeDownloadUrl = bodyAs(DownloadUrl)
const decodeViewUrl = bodyAs(ViewUrl)
const decodeAssetsList = bodyAs(AssetsListResponse)
const decodeHealth = bodyAs(HealthItems)
const decodeAssetNotFound = failWith(AssetNotFoundWire)
const decodeForbidden = failWith(ForbiddenWire)
const decodeOrderNotFound = failWith(OrderNotFoundWire)
const decodeBadRequest = failWith(BadRequestWire)
const decodeValidationRejected = failWith(ValidationRejectedWire)
const decodeOrderAlreadyExists = failWith(OrderAlreadyExistsWire)
const decodeInvalidOrderStatus = failWith(InvalidOrderStatusWire)

const validValidateRequest = validInput(PurchaseValidateBeforePaymentRequest)
const validRegisterRequest = validInput(PurchaseRegisterRequest)
const validOrderRef = validInput(Schema.typeSchema(OrderQuery))
const validOrderLineRef = validInput(Schema.typeSchema(OrderLineQuery))
const validAssetsQuery = validInput(Schema.typeSchema(AssetsListQuery))


const make = (options: HlConnectOptions) =>
  Effect.gen(function* () {
    const base = new URL(options.baseUrl ?? ProductionBaseUrl)
    const origin = base.origin
    const pathPrefix = base.pathname.replace(/\/+$/, "")
    const maxInFlight = options.maxInFlight ?? 64
    const policies = new Map(EndpointNames.map((name) => [name, resolvePolicy(DefaultRetryPolicies[name], options, name)]))
    const policyOf = (name: EndpointName) => policies.get(name) ?? DefaultRetryPolicies[name]
    const schedules = new Map(EndpointNames.map((name) => [name, retrySchedule(policyOf(name))]))

    const dispatcher =
      options.dispatcher ??
      (yield* Effect.acquireRelease(
        Effect.sync(() => makeAgent({ connections: maxInFlight, connectTimeoutMillis: 10_000 })),
        (agent) => Effect.promise(() => agent.close())
      ))

    // The token is unwrapped only here, into headers that never leave this closure.
    const publicHeaders = { accept: "application/json", "user-agent": "hlconnect-core" }
    const getHeaders = { ...publicHeaders, authorization: `Bearer ${Redacted.value(options.accessToken)}` }
    const postHeaders = { ...getHeaders, "content-type": "application/json" }

    const inFlight = yield* Effect.makeSemaphore(maxInFlight)
    const requestsPerSecond = options.requestsPerSecond
    let nextSlotMillis = 0
    // Paces attempts to the configured rate: each takes the next free slot, sleeping until it comes.
    const paced = <A, E>(attempt: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      requestsPerSecond === undefined
        ? attempt
        : Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const slot = Math.max(now, nextSlotMillis)
            nextSlotMillis = slot + 1000 / requestsPerSecond
            return slot > now ? Effect.zipRight(Effect.sleep(Duration.millis(slot - now)), attempt) : attempt
          })

    let observedEnvironment: string | undefined
    const expectedEnvironment = options.expectedEnvironment
    const checkEnvironment = (response: RawResponse): EnvironmentMismatch | undefined => {
      const environment = firstHeader(response.headers["x-environment"])
      if (environment !== undefined) observedEnvironment = environment
      return expectedEnvironment === undefined || environment === expectedEnvironment
        ? undefined
        : new EnvironmentMismatch({ expected: expectedEnvironment, actual: environment ?? null })
    }

    /**
     * One call: attempts run within the in-flight limit and the pace, and are retried per the
     * endpoint's policy while the failure is transient; one span and the metrics cover the call.
     * `handle` sees every status but 429/500/503, which are transient for every endpoint.
     */
    const call = <A, E extends { readonly _tag: string }>(
      endpoint: EndpointName,
      request: PreparedRequest,
      handle: (response: RawResponse) => Effect.Effect<A, E | UnexpectedResponse>,
      onTransientFailure?: (failure: TransientFailure) => void
    ): Effect.Effect<A, E | CallError> => {
      const timeoutMillis = Duration.toMillis(policyOf(endpoint).attemptTimeout)
      const schedule = schedules.get(endpoint) ?? retrySchedule(DefaultRetryPolicies[endpoint])
      const labels = metricLabelsOf(endpoint)
      const answer = (response: RawResponse): Effect.Effect<A, E | TransientFailure | EnvironmentMismatch> => {
        const status = response.status
        if (status === 429 || status === 503) {
          // An HTTP-date Retry-After is relative to Effect's clock (so TestClock governs it too).
          return Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const retryAfter = parseRetryAfter(firstHeader(response.headers["retry-after"]), now)
            return Effect.fail(new RateLimited(retryAfter === undefined ? { status } : { status, retryAfterMillis: retryAfter }))
          })
        }
        if (status === 500) return decodeServerError(response)
        if (status >= 200 && status < 300) {
          const mismatch = checkEnvironment(response)
          if (mismatch !== undefined) return Effect.fail(mismatch)
        }
        return handle(response)
      }
      return Effect.suspend(() => {
        let attempts = 0
        const started = performance.now()
        const attempt = Effect.suspend(() => {
          attempts++
          attemptsTotal.unsafeUpdate(1, labels.endpoint)
          return withTraceContext(request).pipe(
            Effect.flatMap((traced) => send(dispatcher, origin, traced, timeoutMillis)),
            Effect.tap((response) => Effect.annotateCurrentSpan("http.response.status_code", response.status)),
            Effect.flatMap(answer)
          )
        })
        const isRetryable = (failure: E | TransientFailure | EnvironmentMismatch): failure is TransientFailure =>
          isTransient(failure)
        const limited = inFlight.withPermits(1)(paced(attempt))
        const observed =
          onTransientFailure === undefined
            ? limited
            : Effect.tapError(limited, (failure) => {
                if (isRetryable(failure)) onTransientFailure(failure)
                return Effect.void
              })
        return retryWhile(observed, schedule, isRetryable).pipe(
          Effect.catchIf(isRetryable, (lastCause) =>
            Effect.fail(new HlConnectUnavailable({ endpoint, attempts, lastCause }))
          ),
          Effect.onExit((exit) => {
            callDuration.unsafeUpdate((performance.now() - started) / 1000, labels.endpoint)
            const outcome = outcomeOf(exit)
            callsTotal.unsafeUpdate(1, labels.outcome(outcome))
            return Effect.annotateCurrentSpan("hlconnect.outcome", outcome)
          }),
          Effect.withSpan(`HlConnect.${endpoint}`, spanOptionsOf(endpoint, request.method))
        )
      })
    }

    const get = (path: string, query: string): PreparedRequest => ({
      method: "GET",
      path: `${pathPrefix}${path}${query}`,
      headers: getHeaders
    })

    const validatePurchase = (
      input: typeof PurchaseValidateBeforePaymentRequest.Encoded
    ): Effect.Effect<ValidationToken, ValidatePurchaseError> =>
      Effect.flatMap(validValidateRequest(input), (payload) =>
        call(
          "validatePurchase",
          { method: "POST", path: `${pathPrefix}/purchase/validate-purchase-before-payment`, headers: postHeaders, body: JSON.stringify(payload) },
          (response): Effect.Effect<ValidationToken, BadRequest | Unauthorized | AssetNotFound | ValidationRejected | UnexpectedResponse> => {
            switch (response.status) {
              case 200:
                return decodeValidationToken(response)
              case 401:
                return decodeUnauthorized(response)
              case 400:
                return decodeBadRequest(response)
              case 404:
                return decodeAssetNotFound(response)
              case 422:
                return decodeValidationRejected(response)
              default:
                return Effect.fail(unexpected(response))
            }
          }
        )
      )

    const registerPurchase = (
      input: typeof PurchaseRegisterRequest.Encoded,
      registerOptions?: RegisterOptions
    ): Effect.Effect<RegistrationOutcome, RegisterPurchaseError> =>
      aboutOrder(validRegisterRequest(input), (payload) =>
        Effect.suspend(() => {
          // Idempotency: once an attempt may have reached HL Connect, a 409 means our own earlier
          // attempt registered it. A 409 on a first, clean attempt is someone else's order.
          let mayHaveReachedServer = registerOptions?.mayHaveBeenSentBefore === true
          return call(
            "registerPurchase",
            { method: "POST", path: `${pathPrefix}/purchase/register`, headers: postHeaders, body: JSON.stringify(payload) },
            (
              response
            ): Effect.Effect<RegistrationOutcome, Unauthorized | AssetNotFound | OrderAlreadyExists | ValidationRejected | UnexpectedResponse> => {
              switch (response.status) {
                case 201:
                  return Effect.succeed(registered)
                case 401:
                  return decodeUnauthorized(response)
                case 404:
                  return decodeAssetNotFound(response)
                case 409:
                  return mayHaveReachedServer ? Effect.succeed(alreadyRegistered) : decodeOrderAlreadyExists(response)
                case 422:
                  return decodeValidationRejected(response)
                default:
                  return Effect.fail(unexpected(response))
              }
            },
            (failure) => {
              if (mayHaveReached(failure)) mayHaveReachedServer = true
            }
          )
        })
      )

    const purchaseInfo = (input: OrderRef): Effect.Effect<PurchaseOutcome, PurchaseInfoError> =>
      aboutOrder(validOrderRef(input), (query) =>
        call(
          "purchaseInfo",
          get("/purchase/info", queryString({ order_id: query.order_id })),
          (response): Effect.Effect<PurchaseOutcome, Unauthorized | OrderNotFound | UnexpectedResponse> => {
          switch (response.status) {
            case 401:
              return decodeUnauthorized(response)
            case 200:
              return Effect.map(decodeOrderItems(response), (items) => Completed.make({ items }))
            case 202:
              // The body is optional in practice: an empty 202 still means "processing".
              return response.body.trim() === ""
                ? Effect.succeed(Processing.make({}))
                : Effect.map(decodeProcessing(response), (body) => Processing.make(body.status === undefined ? {} : { status: body.status }))
            case 502:
              // HL Connect's own verdict, or a gateway's 502 (HTML, empty, foreign JSON): only the
              // documented JSON with its `status` is `Failed`; anything else is transient.
              return Effect.flatMap(decodeFailed(response), (failed) =>
                failed.status === undefined
                  ? Effect.fail(unexpected(response))
                  : Effect.succeed(
                      Failed.make({
                        status: failed.status,
                        ...(failed.message === undefined ? {} : { message: failed.message })
                      })
                    )
              )
            case 404:
              return decodeOrderNotFound(response)
            default:
              return Effect.fail(unexpected(response))
          }
        })
      )

    const orderLineUrl = <A>(
      endpoint: "downloadUrl" | "viewUrl",
      path: string,
      decode: (response: RawResponse) => Effect.Effect<A, UnexpectedResponse>
    ) =>
      (input: OrderLineRef): Effect.Effect<A, OrderLineUrlError> =>
        aboutOrder(validOrderLineRef(input), (query) =>
          call(
            endpoint,
            get(path, queryString({ order_id: query.order_id, order_line_id: query.order_line_id })),
            (response): Effect.Effect<A, Unauthorized | OrderNotFound | UnexpectedResponse> => {
            switch (response.status) {
              case 200:
                return decode(response)
              case 401:
                return decodeUnauthorized(response)
              case 404:
                return decodeOrderNotFound(response)
              default:
                return Effect.fail(unexpected(response))
            }
          })
        )

    const cancelOrderLine = (input: OrderLineRef): Effect.Effect<void, CancelOrderLineError> =>
      aboutOrder(validOrderLineRef(input), (query) =>
        call(
          "cancelOrderLine",
          {
            method: "DELETE",
            path: `${pathPrefix}/purchase/cancel${queryString({ order_id: query.order_id, order_line_id: query.order_line_id })}`,
            headers: getHeaders
          },
          (response): Effect.Effect<void, Unauthorized | InvalidOrderStatus | OrderNotFound | UnexpectedResponse> => {
            switch (response.status) {
              case 201:
                return Effect.void
              case 401:
                return decodeUnauthorized(response)
              case 400:
                return decodeInvalidOrderStatus(response)
              case 404:
                return decodeOrderNotFound(response)
              default:
                return Effect.fail(unexpected(response))
            }
          }
        )
      )

    const listAssets = (input: { readonly page_size?: number; readonly last_id?: number } = {}) =>
      Effect.flatMap(validAssetsQuery(input), (query) =>
        call(
          "listAssets",
          get("/assets/list", queryString({ page_size: query.page_size, last_id: query.last_id })),
          (response): Effect.Effect<AssetsListResponse, Unauthorized | Forbidden | UnexpectedResponse> => {
            switch (response.status) {
              case 200:
                return decodeAssetsList(response)
              case 401:
                return decodeUnauthorized(response)
              case 403:
                return decodeForbidden(response)
              default:
                return Effect.fail(unexpected(response))
            }
          }
        )
      ) satisfies Effect.Effect<AssetsListResponse, ListAssetsError>

    /** Every asset of the catalog, page after page (keyset paging on `last_id`). */
    const assets = (input: { readonly pageSize?: number } = {}): Stream.Stream<AssetItem, ListAssetsError> =>
      Stream.paginateChunkEffect(0, (lastId) =>
        Effect.map(
          listAssets(input.pageSize === undefined ? { last_id: lastId } : { page_size: input.pageSize, last_id: lastId }),
          (page) => [
            Chunk.unsafeFromArray(page.assets),
            page.next_page === null || page.last_id === null || page.assets.length === 0 ? Option.none() : Option.some(page.last_id)
          ] as const
        )
      )

    const health = (): Effect.Effect<ReadonlyArray<HealthItem>, HealthError> =>
      call("health", { method: "GET", path: `${pathPrefix}/health`, headers: publicHeaders }, (response) =>
        response.status === 200 ? decodeHealth(response) : Effect.fail(unexpected(response))
      )

    return {
      validatePurchase,
      registerPurchase,
      purchaseInfo,
      downloadUrl: orderLineUrl("downloadUrl", "/purchase/download-url", decodeDownloadUrl),
      viewUrl: orderLineUrl("viewUrl", "/purchase/view-url", decodeViewUrl),
      cancelOrderLine,
      listAssets,
      assets,
      health,
      /** The `X-Environment` of the latest response that carried one (e.g. `sandbox`). */
      environment: Effect.sync(() => Option.fromNullable(observedEnvironment)),
      /** The effective retry policy of an endpoint: defaults with this client's overrides. */
      retryPolicy: (endpoint: EndpointName): RetryPolicy => policyOf(endpoint)
    } as const
  })

/** The order a call is about, as its span's attributes. */
const orderAttributes = (
  q: { readonly order_number: number; readonly order_line_id: number } | { readonly order_id: number; readonly order_line_id?: number }
): Record<string, number> =>
  "order_number" in q
    ? { "hlconnect.order_number": q.order_number, "hlconnect.order_line_id": q.order_line_id }
    : q.order_line_id === undefined
    ? { "hlconnect.order_number": q.order_id }
    : { "hlconnect.order_number": q.order_id, "hlconnect.order_line_id": q.order_line_id }

/** `Effect.flatMap` of a validated order reference, with the order on the call's span. */
const aboutOrder = <Q extends Parameters<typeof orderAttributes>[0], A, E, E2>(
  valid: Effect.Effect<Q, E>,
  f: (q: Q) => Effect.Effect<A, E2>
): Effect.Effect<A, E | E2> => Effect.flatMap(valid, (q) => Effect.annotateSpans(f(q), orderAttributes(q)))

const registered = Registered.make({})
const alreadyRegistered = AlreadyRegistered.make({})

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

const outcomeOf = (exit: Exit.Exit<unknown, { readonly _tag: string }>): string => {
  if (exit._tag === "Success") return "success"
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) return failure.value._tag
  return Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "defect"
}

/**
 * Metric labels per endpoint (and outcome), made once: `Metric.unsafeUpdate` caches its hook by
 * the identity of the label array, so a fresh array per call means a fresh metric key, hash and
 * registry lookup per call.
 */
interface EndpointLabels {
  readonly endpoint: ReadonlyArray<MetricLabel.MetricLabel>
  readonly outcome: (outcome: string) => ReadonlyArray<MetricLabel.MetricLabel>
}
const endpointLabels = new Map<EndpointName, EndpointLabels>()
const metricLabelsOf = (endpoint: EndpointName): EndpointLabels => {
  const cached = endpointLabels.get(endpoint)
  if (cached !== undefined) return cached
  const endpointLabel = MetricLabel.make("endpoint", endpoint)
  const byOutcome = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
  const labels: EndpointLabels = {
    endpoint: [endpointLabel],
    outcome: (outcome) => {
      let outcomeLabels = byOutcome.get(outcome)
      if (outcomeLabels === undefined) {
        outcomeLabels = [endpointLabel, MetricLabel.make("outcome", outcome)]
        byOutcome.set(outcome, outcomeLabels)
      }
      return outcomeLabels
    }
  }
  endpointLabels.set(endpoint, labels)
  return labels
}

interface SpanOptions {
  readonly kind: "client"
  readonly attributes: Readonly<Record<string, string>>
  readonly captureStackTrace: () => string | undefined
}
const spanOptions = new Map<string, SpanOptions>()
/**
 * The span's options per endpoint, made once. Effect would otherwise capture a stack trace (a
 * `new Error()`) per call for the span's `code.stacktrace`; the frame it records is always this
 * module's `call`, so one capture per endpoint records the same.
 */
const spanOptionsOf = (endpoint: EndpointName, method: PreparedRequest["method"]): SpanOptions => {
  const key = `${endpoint} ${method}`
  const cached = spanOptions.get(key)
  if (cached !== undefined) return cached
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 2
  const site = new Error()
  Error.stackTraceLimit = limit
  let frame: string | undefined
  const options: SpanOptions = {
    kind: "client",
    attributes: { "hlconnect.endpoint": endpoint, "http.request.method": method },
    captureStackTrace: () => (frame ??= site.stack?.split("\n")[2]?.trim())
  }
  spanOptions.set(key, options)
  return options
}

const callsTotal = Metric.counter("hlconnect_client_calls_total", {
  description: "HL Connect calls by endpoint and outcome, after retries",
  incremental: true
})
const attemptsTotal = Metric.counter("hlconnect_client_attempts_total", {
  description: "HTTP attempts sent to HL Connect, retries included",
  incremental: true
})
const callDuration = Metric.histogram(
  "hlconnect_client_call_duration_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 16 }),
  "Duration of HL Connect calls, retries included"
)

/**
 * The HL Connect client. `HlConnect.Default(options)` (alias `layer`) or `layerConfig()` to read
 * `HLCONNECT_*` environment variables. The layer owns its connection pool and closes it.
 */
export class HlConnect extends Effect.Service<HlConnect>()("@hlconnect/core/HlConnect", {
  scoped: make
}) {
  static readonly layer = (options: HlConnectOptions) => HlConnect.Default(options)
  static readonly layerConfig = (config: Config.Config<HlConnectOptions> = HlConnectConfig) =>
    Layer.unwrapEffect(Effect.map(config, HlConnect.Default))
}
