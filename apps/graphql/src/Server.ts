/**
 * The HTTP side: `/graphql` (API key first, then JSON only, then the body read within its limit,
 * then yoga; a CORS preflight when origins are allowed),
 * GraphiQL's assets, and the shared ops routes (`/health/live`, `/health/ready`, `/metrics`, no
 * key needed), served with request metrics on whatever `HttpServer` is provided.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { HlConnect } from "@hlconnect/core"
import type { Fulfilment } from "@hlconnect/fulfilment"
import { BearerAuth, Health, HttpMetrics, OpsRoutes, RequestBody } from "@hlconnect/service"
import { OrderLines } from "@hlconnect/store"
import { Effect, identity, Layer, Option } from "effect"
import type { ResolverServices } from "./Runner.js"
import type { GraphqlSettings } from "./Config.js"
import * as GraphiqlAssets from "./GraphiqlAssets.js"
import { BatchSources } from "./BatchSources.js"
import * as Upstream from "./Upstream.js"
import * as Yoga from "./Yoga.js"

const unauthorized = HttpServerResponse.unsafeJson(
  {
    errors: [
      {
        message: "Missing or invalid API key: send `Authorization: Bearer <key>`.",
        extensions: { code: "UNAUTHENTICATED" }
      }
    ]
  },
  { status: 401, headers: { "www-authenticate": 'Bearer realm="graphql"', "cache-control": "no-store" } }
)

const problem = (status: number, message: string, code: string) =>
  HttpServerResponse.unsafeJson(
    { errors: [{ message, extensions: { code } }] },
    { status, headers: { "cache-control": "no-store" } }
  )

/**
 * The only body a POST may have: JSON. Forms (`application/x-www-form-urlencoded`,
 * `multipart/form-data`) and `text/plain` are what a browser sends cross-site without asking
 * (no CORS preflight), so they are refused before anything is read or parsed.
 */
const isJson = (contentType: string | undefined): boolean =>
  (contentType ?? "").split(";", 1)[0]?.trim().toLowerCase() === "application/json"

const wantsHtml = (request: HttpServerRequest.HttpServerRequest) =>
  request.method === "GET" && (request.headers.accept ?? "").includes("text/html")

/** Readiness: the store answers and HL Connect is reachable. */
const registerReadiness = Effect.gen(function* () {
  const health = yield* Health.Health
  const hl = yield* HlConnect
  const orderLines = yield* OrderLines.OrderLines
  yield* health.register("store", orderLines.findOrder("readiness-probe"))
  yield* health.register("hlconnect", hl.health(), { timeout: "5 seconds" })
})

/**
 * The router: `/graphql` behind the API key (only the GraphiQL page itself is open; its
 * queries need a key like any other), GraphiQL's assets, and the ops routes.
 */
export const makeRouter = (settings: GraphqlSettings) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<ResolverServices>()
    const assetsDir = settings.graphiql ? GraphiqlAssets.locate(settings.graphiqlAssetsDir) : Option.none()
    if (settings.graphiql) {
      yield* Option.match(assetsDir, {
        onNone: () =>
          Effect.logWarning(
            "GraphiQL assets not found (GRAPHIQL_ASSETS_DIR, @graphql-yoga/graphiql): the page loads them from the CDN"
          ),
        onSome: (dir) =>
          GraphiqlAssets.isAvailable(dir)
            ? Effect.logInfo("GraphiQL served with local assets")
            : Effect.logWarning(`GRAPHIQL_ASSETS_DIR has no GraphiQL build (yoga-graphiql.umd.js): ${dir}`)
      })
    }
    const yoga = Yoga.make({
      settings,
      runtime,
      upstream: Upstream.make(settings.upstream),
      localGraphiqlAssets: Option.isSome(assetsDir)
    })
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        await yoga.dispose()
      })
    )
    // API keys are bearer tokens, checked by the one rule every app uses.
    const keys = BearerAuth.make(settings.apiKeys)
    const tooLarge = problem(
      413,
      `Request body too large: the limit is ${settings.maxBodyBytes} bytes.`,
      "REQUEST_ENTITY_TOO_LARGE"
    )
    const notJson = problem(
      415,
      "Unsupported content type: POST a GraphQL request as application/json.",
      "UNSUPPORTED_MEDIA_TYPE"
    )

    /** Yoga on a request whose body has been read within the limit. */
    const yogaApp = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function* () {
        const body = request.method === "POST" ? yield* RequestBody.read(request, settings.maxBodyBytes) : undefined
        const url = yield* Option.match(HttpServerRequest.toURL(request), {
          onNone: () =>
            Effect.fail(new HttpServerError.RequestError({ request, reason: "Decode", description: "Invalid URL" })),
          onSome: Effect.succeed
        })
        // The request's server span (it continues the caller's `traceparent`) parents the resolvers' spans.
        const parentSpan = Option.getOrUndefined(yield* Effect.option(Effect.currentSpan))
        const response = yield* Effect.tryPromise({
          try: async (signal) =>
            yoga.fetch(
              new Request(url, {
                method: request.method,
                headers: request.headers,
                signal,
                ...(body === undefined ? {} : { body })
              }),
              parentSpan === undefined ? {} : { parentSpan }
            ),
          catch: (cause) =>
            new HttpServerError.RequestError({ request, reason: "Transport", cause, description: "yoga failed" })
        })
        return HttpServerResponse.fromWeb(response)
      }).pipe(
        Effect.catchTags({
          BodyTooLarge: () => Effect.succeed(tooLarge),
          BodyUnreadable: (error) =>
            Effect.succeed(problem(400, `Request body unreadable: ${error.message}`, "BAD_REQUEST"))
        })
      )

    const graphql = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const page = settings.graphiql && wantsHtml(request)
      if (!page && !keys.authorize(request.headers.authorization)) return unauthorized
      if (request.method === "POST" && !isJson(request.headers["content-type"])) return notJson
      const response = yield* yogaApp(request)
      // Results may hold download and view URLs, which are credentials: never cache them.
      return page ? response : HttpServerResponse.setHeader(response, "cache-control", "no-store")
    })

    const graphiqlAssets = Option.match(assetsDir, {
      onNone: () => HttpRouter.empty,
      onSome: (dir) => {
        const serve = GraphiqlAssets.serve(dir)
        return HttpRouter.empty.pipe(
          HttpRouter.get(
            `${GraphiqlAssets.assetsPath}/*`,
            Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
              serve((request.url.split("?", 1)[0] ?? "").slice(GraphiqlAssets.assetsPath.length + 1))
            )
          )
        )
      }
    })

    // A CORS preflight carries no key (browsers never send one); yoga answers it from the allow-list.
    const preflight = Effect.flatMap(HttpServerRequest.HttpServerRequest, yogaApp)

    return HttpRouter.empty.pipe(
      HttpRouter.get(Yoga.graphqlPath, graphql),
      HttpRouter.post(Yoga.graphqlPath, graphql),
      settings.corsOrigins.length === 0 ? identity : HttpRouter.options(Yoga.graphqlPath, preflight),
      HttpRouter.concat(graphiqlAssets),
      HttpRouter.concat(OpsRoutes.router)
    )
  })

/**
 * Serves the facade on the provided `HttpServer`. Needs the HL Connect client, the store, the
 * order workflow (`Fulfilment`: the mutations register and cancel through it) and `Health`;
 * provides nothing. This is the layer an all-in-one launcher composes, with the `Fulfilment`
 * its other apps share.
 */
export const layer = (
  settings: GraphqlSettings
): Layer.Layer<
  never,
  never,
  HttpServer.HttpServer | HlConnect | OrderLines.OrderLines | SqlClient | Fulfilment | Health.Health
> =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      yield* registerReadiness
      const router = yield* makeRouter(settings)
      return HttpServer.serve(router, HttpMetrics.middleware)
    })
  ).pipe(Layer.provide(BatchSources.Default({ upstreamConcurrency: settings.upstreamConcurrency })))
