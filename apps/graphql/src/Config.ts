/**
 * The facade's own settings, read once at start-up. Every problem is reported at once,
 * naming its variable (`loadConfig`).
 */
import { type InvalidConfiguration, loadConfig } from "@hlconnect/service"
import { Config, type Effect, Option, Redacted } from "effect"
import { defaultUpstreamSettings, type UpstreamSettings } from "./Upstream.js"

export interface Limits {
  /** Deepest selection allowed (GraphQL Armor max-depth). */
  readonly maxDepth: number
  /** Aliases per operation (GraphQL Armor max-aliases). */
  readonly maxAliases: number
  /** Static query cost (GraphQL Armor cost-limit). */
  readonly maxCost: number
  /** Tokens per document (GraphQL Armor max-tokens). */
  readonly maxTokens: number
}

export interface GraphqlSettings {
  /** Bearer keys callers authenticate with; never logged. */
  readonly apiKeys: ReadonlyArray<Redacted.Redacted<string>>
  readonly production: boolean
  readonly introspection: boolean
  readonly graphiql: boolean
  /** Where GraphiQL's scripts and styles are served from; `None`: the installed package, else the CDN. */
  readonly graphiqlAssetsDir: Option.Option<string>
  /** HL Connect calls one loader batch runs at once (the client caps the total, HLCONNECT_MAX_IN_FLIGHT). */
  readonly upstreamConcurrency: number
  readonly limits: Limits
  /** Largest request body read (bytes); a larger one is refused with 413 while it streams. */
  readonly maxBodyBytes: number
  /** HL Connect calls per request, and per API key over time (`Upstream`). */
  readonly upstream: UpstreamSettings
  /**
   * Browser origins allowed to call `/graphql` cross-origin (CORS, never with credentials: the key
   * is a header). Empty: no CORS headers at all (GraphiQL is same-origin).
   */
  readonly corsOrigins: ReadonlyArray<string>
}

export const defaultLimits: Limits = { maxDepth: 8, maxAliases: 15, maxCost: 5000, maxTokens: 2000 }

/** 1 MiB, as the relay's: documents and variables are small, and nothing is uploaded. */
export const defaultMaxBodyBytes = 1_048_576
/** GraphiQL's introspection query alone is over 2 KB. */
export const minMaxBodyBytes = 4096
/** Yoga's own default; the facade takes no uploads, so nothing legitimate comes near it. */
export const maxMaxBodyBytes = 25_000_000

/** `https://shop.example` or `http://localhost:3000`: what a browser sends as `Origin`. */
const isOrigin = (text: string): boolean => {
  if (!URL.canParse(text)) return false
  const url = new URL(text)
  return (url.protocol === "https:" || url.protocol === "http:") && url.origin === text
}

const splitList = (list: string): ReadonlyArray<string> =>
  list
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "")

const atLeast = (min: number) => ({ message: `must be at least ${min}`, validation: (n: number) => n >= min })
const int = (name: string, min: number, fallback: number) =>
  Config.integer(name).pipe(Config.validate(atLeast(min)), Config.withDefault(fallback))

/**
 * `GRAPHQL_API_KEYS` (required, comma-separated, secret), `NODE_ENV`, `GRAPHQL_INTROSPECTION` and
 * `GRAPHIQL` (default: on unless `NODE_ENV=production`), `GRAPHIQL_ASSETS_DIR`,
 * `GRAPHQL_UPSTREAM_CONCURRENCY` (16), `GRAPHQL_MAX_DEPTH` (8), `GRAPHQL_MAX_ALIASES` (15),
 * `GRAPHQL_MAX_COST` (5000), `GRAPHQL_MAX_TOKENS` (2000), `GRAPHQL_MAX_BODY_BYTES` (1 MiB,
 * 4096–25,000,000), `GRAPHQL_MAX_UPSTREAM_CALLS` (200 per request), `GRAPHQL_UPSTREAM_RATE` (50 calls
 * per second per API key), `GRAPHQL_UPSTREAM_BURST` (200) and `GRAPHQL_CORS_ORIGINS` (none).
 */
export const GraphqlConfig: Config.Config<GraphqlSettings> = Config.all({
  apiKeys: Config.array(Config.redacted(), "GRAPHQL_API_KEYS").pipe(
    Config.validate({
      message: "must list at least one key, none of them empty",
      validation: (keys) => keys.length > 0 && keys.every((key) => Redacted.value(key).trim() !== "")
    })
  ),
  nodeEnv: Config.string("NODE_ENV").pipe(Config.withDefault("development")),
  introspection: Config.option(Config.boolean("GRAPHQL_INTROSPECTION")),
  graphiql: Config.option(Config.boolean("GRAPHIQL")),
  graphiqlAssetsDir: Config.option(Config.nonEmptyString("GRAPHIQL_ASSETS_DIR")),
  upstreamConcurrency: int("GRAPHQL_UPSTREAM_CONCURRENCY", 1, 16),
  limits: Config.all({
    maxDepth: int("GRAPHQL_MAX_DEPTH", 1, defaultLimits.maxDepth),
    maxAliases: int("GRAPHQL_MAX_ALIASES", 0, defaultLimits.maxAliases),
    maxCost: int("GRAPHQL_MAX_COST", 1, defaultLimits.maxCost),
    maxTokens: int("GRAPHQL_MAX_TOKENS", 1, defaultLimits.maxTokens)
  }),
  maxBodyBytes: Config.integer("GRAPHQL_MAX_BODY_BYTES").pipe(
    Config.validate({
      message: `must be between ${minMaxBodyBytes} and ${maxMaxBodyBytes}`,
      validation: (n) => n >= minMaxBodyBytes && n <= maxMaxBodyBytes
    }),
    Config.withDefault(defaultMaxBodyBytes)
  ),
  upstream: Config.all({
    maxCallsPerRequest: int("GRAPHQL_MAX_UPSTREAM_CALLS", 1, defaultUpstreamSettings.maxCallsPerRequest),
    ratePerSecond: Config.number("GRAPHQL_UPSTREAM_RATE").pipe(
      Config.validate({
        message: "must be a number of calls per second above 0",
        validation: (n) => Number.isFinite(n) && n > 0
      }),
      Config.withDefault(defaultUpstreamSettings.ratePerSecond)
    ),
    burst: int("GRAPHQL_UPSTREAM_BURST", 1, defaultUpstreamSettings.burst)
  }),
  corsOrigins: Config.string("GRAPHQL_CORS_ORIGINS").pipe(
    Config.validate({
      message:
        "must list origins like https://shop.example, comma-separated (scheme, host and port only, no path, no *)",
      validation: (list) => splitList(list).every(isOrigin)
    }),
    Config.map(splitList),
    Config.withDefault<ReadonlyArray<string>>([])
  )
}).pipe(
  Config.map(({ nodeEnv, introspection, graphiql, ...rest }): GraphqlSettings => {
    // Development conveniences are on by default everywhere but production.
    const production = nodeEnv === "production"
    return {
      ...rest,
      production,
      introspection: Option.getOrElse(introspection, () => !production),
      graphiql: Option.getOrElse(graphiql, () => !production)
    }
  })
)

export const loadSettings: Effect.Effect<GraphqlSettings, InvalidConfiguration> = loadConfig(GraphqlConfig)
