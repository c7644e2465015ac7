/**
 * The one rule for decoding what a caller hands us (a client method's input, a store request,
 * GraphQL arguments): decode with the schema, stop at the first problem, and report it as
 * `{ field, message }` — `field` the problem's path (`parts.0.orderLineId`), or `input` when the
 * input as a whole is wrong; `message` what is wrong with it. Each caller wraps the problem in
 * its own tagged error (core's `InvalidRequest` via `invalidRequest`, the store's `InvalidInput`).
 * Small and free of the client, so a worker thread can load it alone (`@hlconnect/core/Input`).
 */
import { Either, type Effect, ParseResult, Schema } from "effect"
import { compileDecoder } from "./CompiledDecoder.js"
import { InvalidRequest } from "./Errors.js"

/** The first problem of an input: where, and what. */
export interface InputProblem {
  readonly field: string
  readonly message: string
}

/** The first issue of a decode failure, as an `InputProblem`. */
export const firstProblem = (error: ParseResult.ParseError): InputProblem => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const field = issue === undefined || issue.path.length === 0 ? "input" : issue.path.map(String).join(".")
  return { field, message: issue?.message ?? error.message }
}

/**
 * `schema`'s decoder for caller input (excess properties ignored); the first problem becomes
 * the caller's error through `onProblem`. Build it once per schema (a module constant or at
 * service construction): the parser is made here.
 */
export const decodeInput = <A, I, E>(schema: Schema.Schema<A, I, never>, onProblem: (problem: InputProblem) => E) => {
  const decode = decodeInputEither(schema, onProblem)
  // An Either is an Effect: callers `yield*` it like any other.
  return (input: unknown): Effect.Effect<A, E> => decode(input)
}

/** The same rule, synchronously: the client's hot path checks its input without entering an Effect. */
export const decodeInputEither = <A, I, E>(
  schema: Schema.Schema<A, I, never>,
  onProblem: (problem: InputProblem) => E
) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "ignore" })
  // Valid input takes the compiled decoder's happy path; a problem is always Schema's to name.
  const compiled = compileDecoder(schema)
  return (input: unknown): Either.Either<A, E> =>
    compiled?.(input) ?? Either.mapLeft(decode(input), (error) => onProblem(firstProblem(error)))
}

/** Core's `InvalidRequest` for a problem; its message names the field too (what logs and `String(error)` show). */
export const invalidRequest = ({ field, message }: InputProblem): InvalidRequest =>
  new InvalidRequest({ field, message: `${field}: ${message}` })
