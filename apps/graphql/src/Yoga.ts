/**
 * The yoga instance: the schema, per-request effect runners, GraphQL Armor limits (`Limits.ts`),
 * masked errors with correlation ids, GraphiQL, and yoga's own logs routed into Effect's logger.
 */
import { blockFieldSuggestionsPlugin } from "@escape.tech/graphql-armor-block-field-suggestions"
import { Cause, Context as EffectContext, Effect, Runtime, Tracer } from "effect"
import { GraphQLError, NoSchemaIntrospectionCustomRule } from "graphql"
import { type CORSOptions, createYoga, type Plugin, type YogaLogger, type YogaServerInstance } from "graphql-yoga"
import type { ResolverServices } from "./Runner.js"
import * as Context from "./Context.js"
import type { GraphqlContext } from "./Context.js"
import type { GraphqlSettings } from "./Config.js"
import { maskedMessage, reportUnexpected } from "./Errors.js"
import * as GraphiqlAssets from "./GraphiqlAssets.js"
import * as Limits from "./Limits.js"
import { schema } from "./schema/index.js"
import type * as Upstream from "./Upstream.js"

export const graphqlPath = "/graphql"

/** What the HTTP side hands yoga with each request: the request's span, the parent of its resolvers' spans. */
export interface ServerContext {
  readonly parentSpan?: Tracer.AnySpan
}

export type Yoga = YogaServerInstance<ServerContext, GraphqlContext>

/** `runtime` whose effects are children of `span`: a resolver's work joins its request's trace. */
const withParentSpan = <R>(runtime: Runtime.Runtime<R>, span: Tracer.AnySpan | undefined): Runtime.Runtime<R> =>
  span === undefined
    ? runtime
    : Runtime.make({ ...runtime, context: EffectContext.add(runtime.context, Tracer.ParentSpan, span) })

/** Yoga's log lines, into Effect's logger (so they get the same format and annotations). */
const yogaLogger = (runtime: Runtime.Runtime<never>): YogaLogger => {
  const runSync = Runtime.runSync(runtime)
  const log =
    (level: "debug" | "info" | "warn" | "error") =>
    (...args: ReadonlyArray<unknown>) => {
      const [first, ...rest] = args
      const line = typeof first === "string" ? first : String(first)
      // Yoga logs each error it masks; `maskError` has already logged it, with its correlation id.
      const effect =
        level === "debug" || (level === "error" && first instanceof Error)
          ? Effect.logDebug(line)
          : level === "info"
            ? Effect.logInfo(line)
            : level === "warn"
              ? Effect.logWarning(line)
              : Effect.logError(line)
      runSync(rest.length === 0 ? effect : Effect.annotateLogs(effect, "details", rest.map(String).join(" ")))
    }
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") }
}

const isDeliberate = (error: unknown): boolean =>
  error instanceof GraphQLError &&
  (error.originalError === undefined || error.originalError === null || isDeliberate(error.originalError))

/** GraphQL's own rule, as a plugin: introspection can be turned off in production. */
const disableIntrospection: Plugin = {
  onValidate: ({ addValidationRule }) => {
    addValidationRule(NoSchemaIntrospectionCustomRule)
  }
}

/**
 * What GraphiQL opens on: example operations for this API (a catalog page, an order, a validate
 * mutation) and where the key comes from. The key itself never goes into the page: the Headers
 * tab holds `headerPlaceholder` until the user pastes theirs.
 */
export const defaultQuery = `# HL Connect GraphQL: every request needs your API key in the Headers tab below, in place of the placeholder.
# The key: under the launcher (npm start) "graphqlApiKey" in .data/launcher.json; an app alone: one of GRAPHQL_API_KEYS.
# Run an operation with the ▶ button (it asks which).

# A page of HL Connect's catalog; pass pageInfo.endCursor as "after" for the next one.
query CatalogPage {
  assets(first: 5) {
    nodes { assetId title }
    pageInfo { hasNextPage endCursor }
  }
}

# One order as stored here, with HL Connect's live answer (npm run demo prints an order number).
query Order {
  order(orderNumber: "1") {
    orderNumber
    drifted
    lines { orderLineId state }
  }
}

# May this purchase go ahead? Ask before payment.
mutation Validate {
  validatePurchase(input: { assetId: 4000, customerIp: "192.0.2.10", quantity: 1 }) {
    __typename
    ... on ValidationToken { token expiresAt }
    ... on Problem { message }
  }
}
`

/** The Headers tab's initial content: a placeholder, never a real key. */
export const headerPlaceholder = JSON.stringify({ Authorization: "Bearer <your GraphQL API key>" }, null, 2)

/**
 * CORS for the allow-listed origins only, and never with credentials: the API key is a header,
 * so no cookie may ride along. Yoga's default reflected any `Origin` with
 * `access-control-allow-credentials: true`. No allow-list: no CORS headers at all.
 */
const corsOf = (origins: ReadonlyArray<string>): CORSOptions | ((request: Request) => CORSOptions) =>
  origins.length === 0
    ? false
    : (request) => {
        const origin = request.headers.get("origin")
        return origin !== null && origins.includes(origin)
          ? {
              origin: [origin],
              credentials: false,
              methods: ["GET", "POST"],
              allowedHeaders: ["authorization", "content-type", "accept"],
              maxAge: 600
            }
          : false
      }

export interface YogaOptions {
  readonly settings: GraphqlSettings
  readonly runtime: Runtime.Runtime<ResolverServices>
  /** The HL Connect budget and per-key rate every request's calls are admitted by. */
  readonly upstream: Upstream.Upstream
  /** Serve GraphiQL's assets ourselves instead of from the CDN. */
  readonly localGraphiqlAssets: boolean
}

export const make = ({ settings, runtime, upstream, localGraphiqlAssets }: YogaOptions): Yoga => {
  const runSync = Runtime.runSync(runtime)
  // Limits are explained to callers in development, not to a prober in production.
  const plugins: Array<Plugin> = [...Limits.plugins(settings.limits, !settings.production)]
  if (settings.production) plugins.push(blockFieldSuggestionsPlugin())
  if (!settings.introspection) plugins.push(disableIntrospection)
  return createYoga<ServerContext, GraphqlContext>({
    schema,
    graphqlEndpoint: graphqlPath,
    landingPage: false,
    // Only GET and POST on one endpoint: no batching of operations, no multipart uploads.
    batching: false,
    // Server.ts reads the body within this limit first; yoga agrees with it.
    maxRequestBodySize: settings.maxBodyBytes,
    logging: yogaLogger(runtime),
    // The request's signal aborts when its client goes away (Server.ts hands it over): its fibers stop.
    // They run under the request's span (a caller's `traceparent` continues there).
    context: ({ request, parentSpan }) =>
      Context.make(
        withParentSpan(runtime, parentSpan),
        upstream.forRequest(request.headers.get("authorization")),
        request.signal
      ),
    maskedErrors: {
      errorMessage: maskedMessage,
      // Our resolvers already turned their failures into masked errors with a correlation id;
      // anything else (a thrown bug) gets one here, logged with the error itself.
      maskError: (error) => {
        if (isDeliberate(error)) return error instanceof GraphQLError ? error : new GraphQLError(maskedMessage)
        const original = error instanceof GraphQLError && error.originalError != null ? error.originalError : error
        const masked = runSync(
          reportUnexpected(Cause.die(original), error instanceof GraphQLError ? error.path?.join(".") : undefined)
        )
        return error instanceof GraphQLError
          ? new GraphQLError(masked.message, {
              nodes: error.nodes ?? null,
              path: error.path ?? null,
              extensions: masked.extensions
            })
          : masked
      }
    },
    cors: corsOf(settings.corsOrigins),
    graphiql: settings.graphiql
      ? { title: "HL Connect GraphQL", defaultQuery, headers: headerPlaceholder, defaultHeaders: headerPlaceholder }
      : false,
    renderGraphiQL: GraphiqlAssets.render(localGraphiqlAssets),
    plugins
  })
}
