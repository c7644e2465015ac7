/**
 * The facade under test: a real HTTP server on port 0, backed by a sandbox and a temporary
 * SQLite store, with its JSON log lines captured.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import type { SqlClient } from "@effect/sql/SqlClient"
import { HlConnect, type HlConnectOptions } from "@hlconnect/core"
import { Fulfilment } from "@hlconnect/fulfilment"
import type { SandboxOptions } from "@hlconnect/sandbox"
import { Health, HttpServing, Logging } from "@hlconnect/service"
import { Store } from "@hlconnect/store"
import { Duration, type Effect, Layer, LogLevel, ManagedRuntime, Option, Redacted } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { defaultLimits, defaultMaxBodyBytes, type GraphqlSettings } from "../../src/Config.js"
import * as Server from "../../src/Server.js"
import { defaultUpstreamSettings } from "../../src/Upstream.js"
import { type RunningSandbox, SandboxToken, startSandbox } from "@hlconnect/sandbox"

export const ApiKey = "test-key-3b9d0c7e"
export const OtherApiKey = "second-key-for-rotation"

export const testSettings = (overrides: Partial<GraphqlSettings> = {}): GraphqlSettings => ({
  apiKeys: [Redacted.make(ApiKey), Redacted.make(OtherApiKey)],
  production: false,
  introspection: true,
  graphiql: true,
  graphiqlAssetsDir: Option.fromNullable(process.env.GRAPHIQL_ASSETS_DIR),
  upstreamConcurrency: 16,
  limits: defaultLimits,
  maxBodyBytes: defaultMaxBodyBytes,
  upstream: defaultUpstreamSettings,
  corsOrigins: [],
  ...overrides
})

export interface TestServer {
  readonly url: string
  readonly graphqlUrl: string
  readonly sandbox: RunningSandbox
  /** JSON log lines the server wrote. */
  readonly logs: ReadonlyArray<string>
  /** Runs an effect against the server's own store, client and workflow. */
  readonly run: <A, E>(
    effect: Effect.Effect<A, E, Store.StoreServices | HlConnect | SqlClient | Fulfilment>
  ) => Promise<A>
  /** POSTs a GraphQL operation with the API key (or `headers` instead). */
  readonly query: (
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>
  ) => Promise<{ readonly status: number; readonly body: GraphqlBody }>
  readonly close: () => Promise<void>
}

export interface GraphqlError {
  readonly message: string
  readonly path?: ReadonlyArray<string | number>
  readonly extensions?: Record<string, unknown>
}

export interface GraphqlBody {
  // Responses are JSON of the query's shape; tests walk it with `field`.
  readonly data?: unknown
  readonly errors?: ReadonlyArray<GraphqlError>
}

export interface StartOptions {
  readonly settings?: Partial<GraphqlSettings>
  readonly sandbox?: Partial<SandboxOptions>
  readonly client?: Partial<HlConnectOptions>
}

export const startServer = async (options: StartOptions = {}): Promise<TestServer> => {
  // Lines stay PROCESSING until a test settles them.
  const sandbox = await startSandbox({ fulfilmentDelay: Duration.hours(1), ...options.sandbox })
  const dir = await mkdtemp(join(tmpdir(), "hlconnect-graphql-"))
  const logs: Array<string> = []
  const services = Layer.mergeAll(Health.Health.Default, Fulfilment.Default()).pipe(
    Layer.provideMerge(
      HlConnect.layer({
        baseUrl: sandbox.url,
        accessToken: Redacted.make(SandboxToken),
        maxAttempts: 1,
        ...options.client
      })
    ),
    Layer.provideMerge(Store.layerSqlite({ filename: join(dir, "store.db") }))
  )
  const layer = Server.layer(testSettings(options.settings)).pipe(
    Layer.provideMerge(services),
    Layer.provideMerge(HttpServing.serverLayer({ port: 0, host: "127.0.0.1", shutdownGrace: "1 second" })),
    Layer.provide(Logging.layerWith({ format: "json", level: LogLevel.Info }, (line) => logs.push(line)))
  )
  const runtime = ManagedRuntime.make(layer)
  const server = await runtime.runPromise(HttpServer.HttpServer)
  const url = HttpServer.formatAddress(server.address)
  const graphqlUrl = `${url}/graphql`
  return {
    url,
    graphqlUrl,
    sandbox,
    logs,
    run: (effect) => runtime.runPromise(effect),
    query: async (query, variables, headers) => {
      const response = await fetch(graphqlUrl, {
        method: "POST",
        headers: { "content-type": "application/json", ...(headers ?? { authorization: `Bearer ${ApiKey}` }) },
        body: JSON.stringify(variables === undefined ? { query } : { query, variables })
      })
      const text = await response.text()
      const body: GraphqlBody = text === "" ? {} : JSON.parse(text)
      return { status: response.status, body }
    },
    close: async () => {
      await runtime.dispose()
      await sandbox.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** Walks a JSON response: `field(data, "order", "lines", 0, "state")`. */
export const field = (value: unknown, ...path: ReadonlyArray<string | number>): unknown => {
  let current = value
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined
    current = Reflect.get(current, key)
  }
  return current
}
