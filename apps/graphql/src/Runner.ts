/**
 * Runs resolver effects on the app's runtime, for one request. A failure becomes a GraphQL error:
 * a caller's bad argument as is, anything else masked and logged with a correlation id (see
 * `Errors`). Every fiber is interrupted when the request's signal aborts (its client hung up or
 * aborted), so HL Connect calls and store queries do not run on for nobody.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import type { HlConnect } from "@hlconnect/core"
import type { Fulfilment } from "@hlconnect/fulfilment"
import type { OrderLines } from "@hlconnect/store"
import { Cause, Effect, Exit, Runtime } from "effect"
import { GraphQLError, type GraphQLResolveInfo } from "graphql"
import { toGraphQLError } from "./Errors.js"
import type { BatchSources } from "./BatchSources.js"

/** What resolver effects may use. */
export type ResolverServices = BatchSources | HlConnect | OrderLines.OrderLines | SqlClient | Fulfilment

export type Run = <A, E>(effect: Effect.Effect<A, E, ResolverServices>, info?: GraphQLResolveInfo) => Promise<A>

/** `order.lines.0.remoteStatus`: where a failure happened, for the log. */
export const pathOf = (info: GraphQLResolveInfo | undefined): string | undefined => {
  if (info === undefined) return undefined
  const keys: Array<string | number> = []
  for (let path: GraphQLResolveInfo["path"] | undefined = info.path; path !== undefined; path = path.prev)
    keys.unshift(path.key)
  return keys.join(".")
}

/** Settles a promise from an exit: the value, or the GraphQL error the failure becomes. */
export const settle = <A, E>(
  exit: Exit.Exit<A, E>,
  field: string | undefined,
  resolve: (value: A) => void,
  reject: (error: unknown) => void
): Effect.Effect<void> =>
  Exit.isSuccess(exit) ? Effect.sync(() => resolve(exit.value)) : Effect.map(toGraphQLError(exit.cause, field), reject)

/** What a field whose request went away settles with: nobody reads it, and it is not logged. */
const cancelled = new GraphQLError("The request was cancelled: its client went away.", {
  extensions: { code: "REQUEST_CANCELLED" }
})

/**
 * Runs an effect for the request of `signal`: interrupted when the signal aborts (Effect's own
 * `runPromiseExit` with `signal`). `effect` settles what waits for it; if it is cut short,
 * `abandon` does instead, with `cancelled` (or the defect, should settling itself have died).
 */
export type Fork = (effect: Effect.Effect<void, never, ResolverServices>, abandon: (error: unknown) => void) => void

export const forkFor = (runtime: Runtime.Runtime<ResolverServices>, signal: AbortSignal): Fork => {
  const runPromiseExit = Runtime.runPromiseExit(runtime)
  return (effect, abandon) => {
    void runPromiseExit(effect, { signal }).then((exit) => {
      if (Exit.isFailure(exit)) abandon(Cause.isInterruptedOnly(exit.cause) ? cancelled : Cause.squash(exit.cause))
    })
  }
}

export const make =
  (fork: Fork): Run =>
  (effect, info) =>
    new Promise((resolve, reject) => {
      fork(
        Effect.flatMap(Effect.exit(effect), (exit) => settle(exit, pathOf(info), resolve, reject)),
        reject
      )
    })
