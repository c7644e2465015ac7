import * as HttpServer from "@effect/platform/HttpServer"
import * as Effect from "effect/Effect"

export interface FetchedResponse {
  readonly status: number
  readonly contentType: string | null
  readonly body: string
}

export class FetchFailed extends Error {}

/** A real HTTP request with Node's fetch, fully read. */
export const fetchText = (url: string): Effect.Effect<FetchedResponse, FetchFailed> =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(url)
      return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() }
    },
    catch: (cause) => new FetchFailed(`GET ${url} failed`, { cause })
  })

/** Base URL of the server in context, e.g. `http://127.0.0.1:40123`. */
export const baseUrl: Effect.Effect<string, never, HttpServer.HttpServer> = HttpServer.addressFormattedWith((url) =>
  Effect.succeed(url)
)
