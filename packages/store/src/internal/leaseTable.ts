/**
 * The SQL of leasing, shared by every claimable table (inbox, outbox, orders): claim due rows in
 * one statement, renew, finish under the lease. What a lease is lives in `Lease.ts`.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { Fragment } from "@effect/sql/Statement"
import { Clock, Effect } from "effect"
import { LeaseLost } from "../Errors.js"
import { Lease } from "../Lease.js"
import { newId } from "./codec.js"

/** Where a claimable kind of item lives and which rows are eligible. */
export interface LeaseTable {
  readonly entity: string
  readonly table: string
  readonly key: string
  readonly dueColumn: string
  /** Extra eligibility (e.g. `state = 'pending'`), ANDed with "due and not leased". */
  readonly eligible: (sql: SqlClient) => Fragment
}

export interface ClaimedRows {
  readonly rows: ReadonlyArray<Record<string, unknown>>
  readonly leaseId: string
  readonly owner: string
  readonly expiresAt: number
}

/**
 * Claim up to `limit` due rows in ONE statement. On PostgreSQL the inner
 * SELECT takes row locks with SKIP LOCKED, so concurrent claimers never pick
 * the same row and never wait on each other; a row whose lease another worker
 * just committed is re-checked against the new version and skipped. On SQLite
 * the UPDATE is a write from its first step, so it holds the single writer lock
 * for the whole claim.
 */
export const claim = (
  sql: SqlClient,
  spec: LeaseTable,
  options: { readonly owner: string; readonly limit: number; readonly leaseMs: number; readonly filter?: Fragment }
): Effect.Effect<ClaimedRows, SqlError> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const leaseId = yield* newId
    const expiresAt = now + options.leaseMs
    const lockClause = sql.onDialectOrElse({
      pg: () => sql.literal("FOR UPDATE SKIP LOCKED"),
      orElse: () => sql.literal("")
    })
    const filter = options.filter ?? sql.literal("1 = 1")
    const rows = yield* sql<Record<string, unknown>>`
      UPDATE ${sql(spec.table)}
      SET lease_id = ${leaseId}, lease_owner = ${options.owner}, lease_expires_at = ${expiresAt},
          attempts = attempts + 1, updated_at = ${now}
      WHERE ${sql(spec.key)} IN (
        SELECT ${sql(spec.key)} FROM ${sql(spec.table)}
        WHERE ${spec.eligible(sql)} AND ${filter}
          AND ${sql(spec.dueColumn)} <= ${now}
          AND (lease_expires_at IS NULL OR lease_expires_at <= ${now})
        ORDER BY ${sql(spec.dueColumn)}, ${sql(spec.key)}
        LIMIT ${options.limit}
        ${lockClause}
      )
      RETURNING *`
    return { rows, leaseId, owner: options.owner, expiresAt }
  })

/**
 * How many rows `claim` would take at `at` with no limit: the total a pass expects (progress).
 * A count, not a promise: other workers may claim some of them meanwhile.
 */
export const countDue = (
  sql: SqlClient,
  spec: LeaseTable,
  at: number
): Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError> =>
  sql<Record<string, unknown>>`
    SELECT COUNT(*) AS n FROM ${sql(spec.table)}
    WHERE ${spec.eligible(sql)}
      AND ${sql(spec.dueColumn)} <= ${at}
      AND (lease_expires_at IS NULL OR lease_expires_at <= ${at})`

/** The lease a claim hands out for one of its items. */
export const leaseOf = (claimed: ClaimedRows, itemId: string): Lease =>
  new Lease({ itemId, leaseId: claimed.leaseId, owner: claimed.owner, expiresAt: claimed.expiresAt })

/** The failure of a step that needed a lease no longer held (expired, or taken over). */
export const lost = (spec: LeaseTable, lease: Lease): LeaseLost =>
  new LeaseLost({ entity: spec.entity, id: lease.itemId, leaseId: lease.leaseId })

/** Extend a live lease; fails with `LeaseLost` if it expired or was taken over. */
export const renew = (
  sql: SqlClient,
  spec: LeaseTable,
  lease: Lease,
  leaseMs: number
): Effect.Effect<Lease, LeaseLost | SqlError> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const expiresAt = now + leaseMs
    const rows = yield* sql`
      UPDATE ${sql(spec.table)} SET lease_expires_at = ${expiresAt}
      WHERE ${sql(spec.key)} = ${lease.itemId} AND lease_id = ${lease.leaseId} AND lease_expires_at > ${now}
      RETURNING ${sql(spec.key)}`
    if (rows.length === 0) return yield* lost(spec, lease)
    return new Lease({ ...lease, expiresAt })
  })

/**
 * Apply `changes` and drop the lease, but only while the lease is still held:
 * a worker whose lease expired cannot overwrite the outcome of whoever reclaimed the item.
 */
export const finish = (
  sql: SqlClient,
  spec: LeaseTable,
  lease: Lease,
  changes: (now: number) => Record<string, unknown>
): Effect.Effect<Record<string, unknown>, LeaseLost | SqlError> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const update = { ...changes(now), leaseId: null, leaseOwner: null, leaseExpiresAt: null, updatedAt: now }
    const rows = yield* sql<Record<string, unknown>>`
      UPDATE ${sql(spec.table)} SET ${sql.update(update)}
      WHERE ${sql(spec.key)} = ${lease.itemId} AND lease_id = ${lease.leaseId} AND lease_expires_at > ${now}
      RETURNING *`
    const row = rows[0]
    if (row === undefined) return yield* lost(spec, lease)
    return row
  })
