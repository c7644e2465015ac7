/**
 * What the facade tells callers when things go wrong. Expected failures are union members of
 * the schema; a caller's bad argument is `BadUserInput` (shown as is); anything else is masked,
 * with a correlation id in `extensions` that the server log carries next to the full cause.
 */
import { Cause, Effect, Option, Schema } from "effect"
import { GraphQLError } from "graphql"
import { randomUUID } from "node:crypto"

/** An argument the caller got wrong, e.g. a malformed cursor. Shown to the caller verbatim. */
export class BadUserInput extends Schema.TaggedError<BadUserInput>()("BadUserInput", {
  argument: Schema.String,
  message: Schema.String
}) {}

export const maskedMessage = "Unexpected error."

export const maskedError = (correlationId: string): GraphQLError =>
  new GraphQLError(maskedMessage, { extensions: { code: "INTERNAL_SERVER_ERROR", correlationId } })

/**
 * Logs `cause` at Error level with a fresh correlation id and returns the masked error to show.
 * The cause comes from typed errors that never carry a URL or a token.
 */
export const reportUnexpected = (cause: Cause.Cause<unknown>, field: string | undefined): Effect.Effect<GraphQLError> =>
  Effect.suspend(() => {
    const correlationId = randomUUID()
    return Effect.logError("GraphQL field failed unexpectedly", cause).pipe(
      Effect.annotateLogs(field === undefined ? { correlationId } : { correlationId, field }),
      Effect.as(maskedError(correlationId))
    )
  })

/** The error a failed resolver effect turns into: a user error as is, anything else masked and logged. */
export const toGraphQLError = (cause: Cause.Cause<unknown>, field: string | undefined): Effect.Effect<GraphQLError> => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure) && failure.value instanceof BadUserInput) {
    const { argument, message } = failure.value
    return Effect.succeed(new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT", argument } }))
  }
  return reportUnexpected(cause, field)
}
