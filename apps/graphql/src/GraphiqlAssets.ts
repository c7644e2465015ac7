/**
 * GraphiQL without a CDN. Yoga's GraphiQL page loads its script, styles and editor workers from
 * unpkg; where the network is closed (CI, air-gapped hosts) the page stays blank. When the
 * `@graphql-yoga/graphiql` build is at hand (`GRAPHIQL_ASSETS_DIR`, or the installed package),
 * the page points at our own copies instead.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Option } from "effect"
import { renderGraphiQL, type GraphiQLOptions } from "graphql-yoga"
import { existsSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"

export const assetsPath = "/graphiql/assets"

/** The only files served: a fixed list, so no request path ever reaches the file system. */
const files: ReadonlyMap<string, string> = new Map([
  ["graphiql.css", "text/css; charset=utf-8"],
  ["yoga-graphiql.umd.js", "text/javascript; charset=utf-8"],
  ["monacoeditorwork/editor.worker.bundle.js", "text/javascript; charset=utf-8"],
  ["monacoeditorwork/json.worker.bundle.js", "text/javascript; charset=utf-8"],
  ["monacoeditorwork/graphql.worker..bundle.js", "text/javascript; charset=utf-8"]
])

const cdnBase = /https:\/\/unpkg\.com\/@graphql-yoga\/graphiql@[^/]+\/dist\//g
const remoteFavicon = /href=https:\/\/raw\.githubusercontent\.com\/[^\s>]+favicon\.ico/g

const hasAssets = (dir: string) => existsSync(join(dir, "yoga-graphiql.umd.js"))

/** The directory holding GraphiQL's build: the configured one, else the installed package's `dist`. */
export const locate = (configured: Option.Option<string>): Option.Option<string> => {
  if (Option.isSome(configured)) return Option.some(configured.value)
  try {
    const dist = join(dirname(createRequire(import.meta.url).resolve("@graphql-yoga/graphiql/package.json")), "dist")
    return hasAssets(dist) ? Option.some(dist) : Option.none()
  } catch {
    return Option.none()
  }
}

/**
 * Yoga's GraphiQL page, with its assets served from `assetsPath` when `local`. Yoga's GraphiQL
 * component opens on its `query` prop (else its own welcome comment) and never reads
 * `defaultQuery`: the default document is passed on as `query` too.
 */
export const render =
  (local: boolean) =>
  (options: GraphiQLOptions): string => {
    const props: GraphiQLOptions & { readonly query?: string } =
      options.defaultQuery === undefined ? options : { ...options, query: options.defaultQuery }
    const html = renderGraphiQL(props)
    return local ? html.replace(cdnBase, `${assetsPath}/`).replace(remoteFavicon, "href=data:,") : html
  }

/** Serves one asset file from `dir`, read once and kept in memory. */
export const serve = (dir: string) => {
  const cache = new Map<string, Uint8Array>()
  return (file: string): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
    const contentType = files.get(file)
    if (contentType === undefined) return Effect.succeed(HttpServerResponse.empty({ status: 404 }))
    const cached = cache.get(file)
    const body: Effect.Effect<Uint8Array, Error> =
      cached === undefined
        ? Effect.tryPromise(() => readFile(join(dir, file))).pipe(
            Effect.tap((bytes) => Effect.sync(() => cache.set(file, bytes)))
          )
        : Effect.succeed(cached)
    return body.pipe(
      Effect.map((bytes) =>
        HttpServerResponse.uint8Array(bytes, { contentType, headers: { "cache-control": "public, max-age=86400" } })
      ),
      Effect.catchAll((error) =>
        Effect.as(
          Effect.logWarning("GraphiQL asset unreadable", { file, error: error.message }),
          HttpServerResponse.empty({ status: 404 })
        )
      )
    )
  }
}

export const isAvailable = hasAssets
