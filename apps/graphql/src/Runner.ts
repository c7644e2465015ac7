/**
 * Runs resolver effects on the app's runtime. A failure becomes a GraphQL error: a caller's
 * bad argument as is, anything else masked and logged with a correlation id (see `Errors`).
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import type { HlConnect } from "@hlconnect/core"
import type { Fulfilment } from "@hlconnect/fulfilment"
import type { OrderLines } from "@hlconnect/store"
import { Effect, Exit, Runtime } from "effect"
import type { GraphQLResolveInfo } from "graphql"
import { toGraphQLError } from "./Errors.js"
import type { Loaders } from "./Loaders.js"

/** What resolver effects may use. */
export type ResolverServices = Loaders | HlConnect | OrderLines.OrderLines | SqlClient | Fulfilment

export type Run = <A, E>(effect: Effect.Effect<A, E, ResolverServices>, info?: GraphQLResolveInfo) => Promise<A>

/** `order.lines.0.remoteStatus`: where a failure happened, for the log. */
export const pathOf = (info: GraphQLResolveInfo | undefined): string | undefined => {
  if (info === undefined) return undefined
  const keys: Array<string | number> = []
  for (let path: GraphQLResolveInfo["path"] | undefined = info.path; path !== undefined; path = path.prev) keys.unshift(path.key)
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

export const make = (runtime: Runtime.Runtime<ResolverServices>): Run => {
  const runFork = Runtime.runFork(runtime)
  return (effect, info) =>
    new Promise((resolve, reject) => {
      runFork(Effect.flatMap(Effect.exit(effect), (exit) => settle(exit, pathOf(info), resolve, reject)))
    })
}
