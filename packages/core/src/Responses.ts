/**
 * What each status of an endpoint means, derived from the `HttpApi` definition itself with
 * `HttpApi.reflect` (as Effect's `HttpApiClient` does inside): for every status `Api.ts` declares
 * on the endpoint, its group or its middleware, the schema that decodes the body and whether it
 * is a success or an error. A status added to the definition reaches the client with no second
 * edit. Anything not declared, or a body that is not the declared JSON, is `UnexpectedResponse`.
 *
 * The decoding is ours rather than `HttpApiClient`'s so that it runs on the raw undici response
 * (see Transport.ts) and every failure keeps its status and a redacted excerpt of the body.
 */
import { HttpApi, type HttpApiEndpoint, HttpApiError, type HttpApiGroup, HttpApiSchema } from "@effect/platform"
import { Either, Option, type ParseResult, Schema } from "effect"
import type { HlConnectApi } from "./Api.js"
import { compileDecoder } from "./CompiledDecoder.js"
import { UnexpectedResponse } from "./Errors.js"
import type { RawResponse } from "./Transport.js"

type Groups = typeof HlConnectApi extends HttpApi.HttpApi<infer _Id, infer G, infer _E, infer _R> ? G : never
type Endpoints = HttpApiGroup.HttpApiGroup.Endpoints<Groups>
/** The names of the definition's endpoints. */
export type EndpointName = HttpApiEndpoint.HttpApiEndpoint.Name<Endpoints>
type GroupOf<N extends string> = Groups extends infer G
  ? N extends HttpApiEndpoint.HttpApiEndpoint.Name<HttpApiGroup.HttpApiGroup.Endpoints<G>>
    ? G
    : never
  : never
type EndpointOf<N extends string> = HttpApiEndpoint.HttpApiEndpoint.WithName<Endpoints, N>

/** The success values the definition declares for an endpoint (one per success status). */
export type DeclaredSuccess<N extends EndpointName> = HttpApiEndpoint.HttpApiEndpoint.Success<EndpointOf<N>>
/** The errors the definition declares for an endpoint: its own, its group's and its middleware's. */
export type DeclaredError<N extends EndpointName> =
  | HttpApiEndpoint.HttpApiEndpoint.Error<EndpointOf<N>>
  | HttpApiGroup.HttpApiGroup.Error<GroupOf<N>>

/** A response read against the definition. */
export type Answer<S, E> =
  | { readonly _tag: "Success"; readonly status: number; readonly value: S }
  | { readonly _tag: "Failure"; readonly status: number; readonly error: E }
  | UnexpectedResponse

const EXCERPT_LENGTH = 300
/** Bodies may hold download/view URLs, which are credentials: never let one into an error. */
export const redactUrls = (text: string) => text.replace(/https?:(?:\\?\/){2}[^\s"'<>]+/g, "<url redacted>")
const excerptOf = (body: string) => redactUrls(body.slice(0, EXCERPT_LENGTH * 2)).slice(0, EXCERPT_LENGTH)

export const unexpected = (response: RawResponse) =>
  new UnexpectedResponse({ status: response.status, excerpt: excerptOf(response.body) })

type Decode<A> = (body: string) => Either.Either<A, ParseResult.ParseError | SyntaxError>
/**
 * `decode` is undefined when the status carries no body (a `Void` member such as
 * `HttpApiSchema.Created`). Typed by the member's place in the definition: a success status
 * decodes to one of the endpoint's declared successes, an error status to one of its errors.
 */
type StatusEntry<S, E> =
  | { readonly success: true; readonly decode: Decode<S> | undefined }
  | { readonly success: false; readonly decode: Decode<E> | undefined }

/** JSON bodies go through the compiled decoder first; Schema's decoder decides whatever it leaves. */
const bodyDecoder = <A>(schema: Schema.Schema<A, unknown>) => {
  const decode = Schema.decodeUnknownEither(schema)
  if (HttpApiSchema.getEncoding(schema.ast).kind === "Text") return decode
  const compiled = compileDecoder(schema)
  return (body: string): Either.Either<A, ParseResult.ParseError | SyntaxError> => {
    let json: unknown
    try {
      json = JSON.parse(body)
    } catch (error) {
      return Either.left(error instanceof SyntaxError ? error : new SyntaxError(String(error)))
    }
    return compiled?.(json) ?? decode(json)
  }
}

/**
 * The status table of one endpoint, from `HttpApi.reflect`. Each member's AST is wrapped as a
 * schema of the endpoint's declared success (or error) type: `reflect` took it from that very
 * endpoint's success (error) schema, its group's or its middleware's.
 */
const statusTable = <N extends EndpointName, Id extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  name: N,
  definition: HttpApi.HttpApi<Id, G, E, R>
): ReadonlyMap<number, StatusEntry<DeclaredSuccess<N>, DeclaredError<N>>> => {
  const table = new Map<number, StatusEntry<DeclaredSuccess<N>, DeclaredError<N>>>()
  HttpApi.reflect(definition, {
    predicate: ({ endpoint }) => endpoint.name === name,
    onGroup: () => undefined,
    onEndpoint: ({ successes, errors }) => {
      errors.forEach(({ ast }, status) => {
        table.set(status, {
          success: false,
          decode: Option.match(ast, {
            onNone: () => undefined,
            onSome: (ast) => bodyDecoder(Schema.make<DeclaredError<N>, unknown, never>(ast))
          })
        })
      })
      successes.forEach(({ ast }, status) => {
        table.set(status, {
          success: true,
          decode: Option.match(ast, {
            onNone: () => undefined,
            onSome: (ast) => bodyDecoder(Schema.make<DeclaredSuccess<N>, unknown, never>(ast))
          })
        })
      })
    }
  })
  return table
}

/**
 * The response reader of one endpoint: decodes a response by its status with the schema the
 * definition declares for it. Error bodies are redacted before decoding (a server's message lands
 * in the error). The API's own `HttpApiDecodeError` (400) is the server's business, not an answer
 * HL Connect documents: a body of that shape is `UnexpectedResponse`. A status declared without a
 * body succeeds with `undefined`.
 *
 * The types come from `HlConnectApi`; `definition` is that, or in tests one derived from it.
 */
export const responseReader = <
  N extends EndpointName,
  Id extends string,
  G extends HttpApiGroup.HttpApiGroup.Any,
  E,
  R
>(
  name: N,
  definition: HttpApi.HttpApi<Id, G, E, R>
): ((response: RawResponse) => Answer<DeclaredSuccess<N> | undefined, DeclaredError<N>>) => {
  const table = statusTable(name, definition)
  return (response) => {
    const entry = table.get(response.status)
    if (entry === undefined) return unexpected(response)
    if (entry.decode === undefined) {
      return entry.success ? { _tag: "Success", status: response.status, value: undefined } : unexpected(response)
    }
    if (entry.success) {
      const decoded = entry.decode(response.body)
      return Either.isLeft(decoded)
        ? unexpected(response)
        : { _tag: "Success", status: response.status, value: decoded.right }
    }
    const decoded = entry.decode(redactUrls(response.body))
    return Either.isLeft(decoded) || decoded.right instanceof HttpApiError.HttpApiDecodeError
      ? unexpected(response)
      : { _tag: "Failure", status: response.status, error: decoded.right }
  }
}
