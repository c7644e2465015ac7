/**
 * Retention: deleting ended rows in bounded batches, shared by the inbox and the outbox.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { Fragment } from "@effect/sql/Statement"
import { Effect, Schema } from "effect"
import { NonNegativeInt } from "./codec.js"

/** "Delete up to `limit` ended rows last changed before `before` (epoch ms)." */
export const PurgeRequest = Schema.Struct({
  before: NonNegativeInt,
  limit: Schema.Int.pipe(Schema.between(1, 10_000))
})
export type PurgeRequest = typeof PurgeRequest.Type

/**
 * Where a purgeable kind of row lives. Every state but `pending` is final (processed, delivered,
 * dead), and the table has a partial index on `updated_at` over exactly those rows — so a new
 * (pending) row, the ingest hot path, never pays for it.
 */
export interface EndedTable {
  readonly table: string
  readonly key: string
}

/**
 * On PostgreSQL the inner SELECT locks the rows it picks, skipping locked ones: replicas purging
 * at once take disjoint rows and never wait on each other, and a row changed since the snapshot
 * (a replay) is re-checked against its new version and left alone. SQLite has one writer.
 */
export const skipLocked = (sql: SqlClient): Fragment =>
  sql.onDialectOrElse({
    pg: () => sql.literal("FOR UPDATE SKIP LOCKED"),
    orElse: () => sql.literal("")
  })

/**
 * Delete up to `limit` ended rows last changed before `before`, oldest first; returns how many.
 * The condition is the partial index's own (`state <> 'pending'`), so both engines use it and
 * neither sorts however large the backlog.
 */
export const deleteEnded = (sql: SqlClient, spec: EndedTable, request: PurgeRequest): Effect.Effect<number, SqlError> =>
  sql`DELETE FROM ${sql(spec.table)} WHERE ${sql(spec.key)} IN (
      SELECT ${sql(spec.key)} FROM ${sql(spec.table)}
      WHERE state <> 'pending' AND updated_at < ${request.before}
      ORDER BY updated_at
      LIMIT ${request.limit}
      ${skipLocked(sql)}
    )
    RETURNING ${sql(spec.key)}`.pipe(Effect.map((rows) => rows.length))
