/**
 * The schema of both engines as numbered migrations, run at start-up (idempotently, under an
 * advisory lock on PostgreSQL).
 */
import * as Migrator from "@effect/sql/Migrator"
import { SqlClient } from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { StorageError } from "./Errors.js"

/**
 * Portable DDL: every statement runs unchanged on SQLite and PostgreSQL.
 * Timestamps are epoch milliseconds in BIGINT, booleans INTEGER 0/1, JSON TEXT.
 * Migrations are frozen history: never edit one that has shipped, add a new one.
 */
const ddl = (statements: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient
    for (const statement of statements) {
      yield* sql.unsafe(statement)
    }
  })

const m0001_initial = ddl([
  `CREATE TABLE orders (
    order_number TEXT PRIMARY KEY,
    next_check_at BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_id TEXT,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  )`,
  `CREATE INDEX orders_due ON orders (next_check_at)`,
  `CREATE TABLE order_lines (
    order_number TEXT NOT NULL REFERENCES orders (order_number),
    order_line_id TEXT NOT NULL,
    asset TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL,
    total_price_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    customer_email TEXT NOT NULL,
    customer_name TEXT,
    validation_token TEXT,
    token_expires_at BIGINT,
    state TEXT NOT NULL CHECK (state IN ('paid', 'registering', 'registered', 'processing', 'completed',
      'failed', 'cancel_requested', 'cancelled', 'needs_attention')),
    attention_reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_check_at BIGINT,
    last_error TEXT,
    remote_snapshot TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (order_number, order_line_id)
  )`,
  `CREATE INDEX order_lines_by_state ON order_lines (state, order_number, order_line_id)`,
  `CREATE TABLE webhook_inbox (
    event_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'processed', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    lease_id TEXT,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    updated_at BIGINT NOT NULL
  )`,
  `CREATE INDEX webhook_inbox_due ON webhook_inbox (state, next_attempt_at)`,
  `CREATE TABLE subscribers (
    subscriber_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    signing_secret TEXT NOT NULL,
    secret_hint TEXT NOT NULL,
    event_filter TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    disabled_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  )`
])

const m0002_outbound_and_reconcile = ddl([
  `ALTER TABLE webhook_inbox ADD COLUMN processed_at BIGINT`,
  `CREATE TABLE order_event_sequences (
    order_number TEXT PRIMARY KEY,
    last_sequence INTEGER NOT NULL
  )`,
  `CREATE TABLE outbound_events (
    event_id TEXT PRIMARY KEY,
    order_number TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (order_number, sequence)
  )`,
  `CREATE TABLE deliveries (
    delivery_id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES outbound_events (event_id),
    subscriber_id TEXT NOT NULL REFERENCES subscribers (subscriber_id),
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_status_code INTEGER,
    last_error TEXT,
    lease_id TEXT,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    delivered_at BIGINT,
    dead_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (event_id, subscriber_id)
  )`,
  `CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at)`,
  `CREATE INDEX deliveries_by_subscriber ON deliveries (subscriber_id, state, delivery_id)`,
  `CREATE TABLE reconcile_runs (
    run_id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    examined INTEGER NOT NULL DEFAULT 0,
    drifted INTEGER NOT NULL DEFAULT 0,
    repaired INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    error TEXT
  )`,
  `CREATE TABLE reconcile_drifts (
    drift_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES reconcile_runs (run_id),
    order_number TEXT NOT NULL,
    order_line_id TEXT,
    expected TEXT NOT NULL,
    observed TEXT NOT NULL,
    action TEXT NOT NULL,
    result TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
  )`,
  `CREATE INDEX reconcile_drifts_by_run ON reconcile_drifts (run_id, recorded_at)`
])

/** Ensemble parts registered with a line: each part is its own HL Connect order line. */
const m0003_order_line_parts = ddl([`ALTER TABLE order_lines ADD COLUMN parts TEXT`])

/**
 * Several active signing secrets per subscriber (rotation with an overlap), the failing-streak
 * bookkeeping behind warn-then-disable, and an index for listing deliveries by state.
 * Each subscriber's one secret moves to `subscriber_secrets` (no expiry) and the old column goes,
 * so a secret is stored in one place only.
 */
const m0004_subscriber_secrets_and_health = ddl([
  `CREATE TABLE subscriber_secrets (
    secret_id TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (subscriber_id),
    secret TEXT NOT NULL,
    secret_hint TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
  )`,
  `CREATE INDEX subscriber_secrets_by_subscriber ON subscriber_secrets (subscriber_id, created_at)`,
  `INSERT INTO subscriber_secrets (secret_id, subscriber_id, secret, secret_hint, created_at, expires_at)
    SELECT 'migrated:' || subscriber_id, subscriber_id, signing_secret, secret_hint, updated_at, NULL FROM subscribers`,
  `ALTER TABLE subscribers DROP COLUMN signing_secret`,
  `ALTER TABLE subscribers ADD COLUMN failing_since BIGINT`,
  `ALTER TABLE subscribers ADD COLUMN last_failure_at BIGINT`,
  `ALTER TABLE subscribers ADD COLUMN failure_warning INTEGER NOT NULL DEFAULT 0`,
  `CREATE INDEX deliveries_by_state ON deliveries (state, created_at, delivery_id)`
])

/**
 * Subscribers seeded from configuration carry their seed key (the URL) under a unique index, so
 * replicas starting at once create one subscriber per configured entry, not one each.
 */
const m0005_subscriber_seed_key = ddl([
  `ALTER TABLE subscribers ADD COLUMN seed_key TEXT`,
  `CREATE UNIQUE INDEX subscribers_by_seed_key ON subscribers (seed_key)`
])

/**
 * Retention picks ended inbox events and deliveries by `updated_at` (partial indexes over the
 * rows that are not pending), and outbound events no delivery refers to by `created_at`.
 * Without these indexes every purge batch would scan and sort the whole table.
 */
const m0006_retention_indexes = ddl([
  // Partial: a new (pending) row — every inbound event — does not touch them.
  `CREATE INDEX webhook_inbox_ended ON webhook_inbox (updated_at) WHERE state <> 'pending'`,
  `CREATE INDEX deliveries_ended ON deliveries (updated_at) WHERE state <> 'pending'`,
  `CREATE INDEX outbound_events_by_created ON outbound_events (created_at)`
])

/**
 * Signing secrets are stored sealed (`SecretBox`): `key_id` names the key a row is sealed under,
 * NULL for a row written in plaintext before this migration (the relay seals those at start-up).
 */
const m0007_sealed_subscriber_secrets = ddl([`ALTER TABLE subscriber_secrets ADD COLUMN key_id TEXT`])

/**
 * The reconciler's audit pass re-reads orders whose lines all ended (completed, cancelled, failed)
 * within a window: runs carry their kind (`pass` or `audit`), orders when they were last audited
 * (least recently audited first, so a budget per pass still reaches every order), and ended lines
 * are indexed by when they ended (`updated_at`, partial: active lines do not touch it).
 * A pass that examined nothing is not stored as a run, so when each kind last started is kept on
 * its own (`reconcile_starts`): the schedule's missed ticks are counted from it.
 */
const m0008_reconcile_audit = ddl([
  `ALTER TABLE reconcile_runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'pass'`,
  `CREATE TABLE reconcile_starts (kind TEXT PRIMARY KEY, started_at BIGINT NOT NULL)`,
  `ALTER TABLE orders ADD COLUMN audited_at BIGINT`,
  `CREATE INDEX order_lines_ended ON order_lines (updated_at) WHERE state IN ('completed', 'cancelled', 'failed')`
])

/**
 * The W3C trace context (`TraceContext`) stored with the inbox event, the order line's last
 * change and the outbox event, so the dispatcher, the reconciler and the deliverer continue the
 * trace that wrote them. NULL: written without a span (or before this migration).
 */
const m0009_trace_context = ddl([
  `ALTER TABLE webhook_inbox ADD COLUMN trace_context TEXT`,
  `ALTER TABLE order_lines ADD COLUMN trace_context TEXT`,
  `ALTER TABLE outbound_events ADD COLUMN trace_context TEXT`
])

/**
 * Retention of the reconciler's runs (`ReconcileRuns.purgeEnded`) picks them by `started_at`, the
 * order the report lists them in too; their drift records go by `run_id`, already indexed.
 */
const m0010_reconcile_runs_by_start = ddl([`CREATE INDEX reconcile_runs_by_start ON reconcile_runs (started_at)`])

/** All migrations, keyed `<id>_<name>` as `Migrator.fromRecord` expects. */
export const all = {
  "0001_initial": m0001_initial,
  "0002_outbound_and_reconcile": m0002_outbound_and_reconcile,
  "0003_order_line_parts": m0003_order_line_parts,
  "0004_subscriber_secrets_and_health": m0004_subscriber_secrets_and_health,
  "0005_subscriber_seed_key": m0005_subscriber_seed_key,
  "0006_retention_indexes": m0006_retention_indexes,
  "0007_sealed_subscriber_secrets": m0007_sealed_subscriber_secrets,
  "0008_reconcile_audit": m0008_reconcile_audit,
  "0009_trace_context": m0009_trace_context,
  "0010_reconcile_runs_by_start": m0010_reconcile_runs_by_start
} as const

export const latestVersion = 10

export const migrationsTable = "store_migrations"

/**
 * Bring the schema up to date (or up to `upTo`, for testing upgrades).
 * Idempotent. On PostgreSQL a transaction-scoped advisory lock serialises
 * replicas starting at the same time, and the bookkeeping table is created
 * under that lock so concurrent first starts cannot race on it.
 */
export const run = (options?: {
  readonly upTo?: number
}): Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, StorageError, SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient
    const upTo = options?.upTo ?? Number.POSITIVE_INFINITY
    const selected = Object.fromEntries(Object.entries(all).filter(([key]) => Number.parseInt(key, 10) <= upTo))
    const migrate = Migrator.make({})({ loader: Migrator.fromRecord(selected), table: migrationsTable })
    return yield* sql.onDialectOrElse({
      pg: () =>
        sql.withTransaction(
          Effect.gen(function* () {
            yield* sql`SELECT pg_advisory_xact_lock(7206431980)`
            yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${migrationsTable} (
              migration_id integer primary key,
              created_at timestamp with time zone not null default now(),
              name text not null)`)
            return yield* migrate
          })
        ),
      orElse: () => migrate
    })
  }).pipe(
    Effect.mapError((cause) => new StorageError({ message: `Store migration failed: ${cause.message}`, cause })),
    Effect.catchAllDefect((cause) =>
      Effect.fail(new StorageError({ message: `Store migration failed: ${String(cause)}`, cause }))
    )
  )
