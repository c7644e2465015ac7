/**
 * What the facade tells callers when things go wrong. Expected failures are union members of
 * the schema; a caller's bad argument is `BadUserInput`, a caller over its HL Connect budget or
 * rate `UpstreamBudgetExceeded` / `UpstreamRateLimited` (all shown as is); anything else is masked,
 * with a correlation id in `extensions` (the request's trace id) that the server log carries next
 * to the full cause.
 */
import { Cause, Effect, Option, Schema } from "effect"
import { GraphQLError } from "graphql"
import { randomUUID } from "node:crypto"

/** An argument the caller got wrong, e.g. a malformed cursor. Shown to the caller verbatim. */
export class BadUserInput extends Schema.TaggedError<BadUserInput>()("BadUserInput", {
  argument: Schema.String,
  message: Schema.String
}) {}

/**
 * The request has made as many HL Connect calls as one request may (`GRAPHQL_MAX_UPSTREAM_CALLS`):
 * this field would have made another, and did not. `extensions.code: UPSTREAM_BUDGET_EXCEEDED`.
 */
export class UpstreamBudgetExceeded extends Schema.TaggedError<UpstreamBudgetExceeded>()("UpstreamBudgetExceeded", {
  limit: Schema.Number
}) {
  override get message(): string {
    return `This request reached its budget of ${this.limit} HL Connect calls; the field was not resolved. Ask for fewer orders, lines or URLs at once.`
  }
}

/**
 * The API key has used its HL Connect calls for now (`GRAPHQL_UPSTREAM_RATE`, `_BURST`): this
 * field was not resolved. `extensions.code: RATE_LIMITED`, with `retryAfterSeconds`.
 */
export class UpstreamRateLimited extends Schema.TaggedError<UpstreamRateLimited>()("UpstreamRateLimited", {
  retryAfterSeconds: Schema.Number
}) {
  override get message(): string {
    return `Too many HL Connect calls for this API key: retry in ${this.retryAfterSeconds} s.`
  }
}

export const maskedMessage = "Unexpected error."

export const maskedError = (correlationId: string): GraphQLError =>
  new GraphQLError(maskedMessage, { extensions: { code: "INTERNAL_SERVER_ERROR", correlationId } })

/**
 * Logs `cause` at Error level with a correlation id (the trace id of the request's span, else a
 * fresh UUID) and returns the masked error to show.
 * The cause comes from typed errors that never carry a URL or a token.
 */
export const reportUnexpected = (cause: Cause.Cause<unknown>, field: string | undefined): Effect.Effect<GraphQLError> =>
  Effect.flatMap(Effect.option(Effect.currentSpan), (span) => {
    // The trace id when there is one: the error a caller reports leads straight to its trace.
    const correlationId = Option.isSome(span) ? span.value.traceId : randomUUID()
    return Effect.logError("GraphQL field failed unexpectedly", cause).pipe(
      Effect.annotateLogs(field === undefined ? { correlationId } : { correlationId, field }),
      Effect.as(maskedError(correlationId))
    )
  })

/** The error a failed resolver effect turns into: a user error as is, anything else masked and logged. */
export const toGraphQLError = (cause: Cause.Cause<unknown>, field: string | undefined): Effect.Effect<GraphQLError> => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (error instanceof BadUserInput) {
      return Effect.succeed(
        new GraphQLError(error.message, { extensions: { code: "BAD_USER_INPUT", argument: error.argument } })
      )
    }
    // The caller's own limits: shown as is, nothing to log.
    if (error instanceof UpstreamBudgetExceeded) {
      return Effect.succeed(
        new GraphQLError(error.message, { extensions: { code: "UPSTREAM_BUDGET_EXCEEDED", limit: error.limit } })
      )
    }
    if (error instanceof UpstreamRateLimited) {
      return Effect.succeed(
        new GraphQLError(error.message, {
          extensions: { code: "RATE_LIMITED", retryAfterSeconds: error.retryAfterSeconds }
        })
      )
    }
  }
  return reportUnexpected(cause, field)
}
