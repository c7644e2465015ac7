/**
 * Joining the caller's transaction, or opening one, for writes that must be atomic.
 */
import { type SqlClient, TransactionConnection } from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Option } from "effect"

/**
 * Runs `self` atomically: as part of the caller's transaction when one is open, else in a
 * transaction of its own. Joining (rather than opening a savepoint, as a nested
 * `withTransaction` does) saves three statements per call on the hot paths; the price is that
 * a storage failure inside must fail the caller's transaction too — which is what every caller
 * does: only the checks that fail before anything is written (stale version, illegal
 * transition) are caught and carried on from.
 */
export const atomically =
  (sql: SqlClient) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    Effect.flatMap(Effect.serviceOption(TransactionConnection), (open) =>
      Option.isSome(open) ? self : sql.withTransaction(self)
    )
