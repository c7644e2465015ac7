/**
 * Wiring: the SQL client of either engine (SQLite file or PostgreSQL), migrations, and every
 * repository as one layer; `transaction` lets repository calls share one transaction.
 */
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { SqlClient } from "@effect/sql/SqlClient"
import { Clock, type ConfigError, Context, Effect, Layer, Option, Redacted, Schema, String as Str } from "effect"
import { dirname } from "node:path"
import { StorageError } from "./Errors.js"
import { Inbox } from "./Inbox.js"
import { storage } from "./internal/codec.js"
import * as Migrations from "./Migrations.js"
import { OrderLines } from "./OrderLines.js"
import { Outbox } from "./Outbox.js"
import * as PrivateFiles from "./PrivateFiles.js"
import { ReconcileRuns } from "./ReconcileRuns.js"
import { StoreConfig, type StoreTarget } from "./StoreConfig.js"
import { Subscribers } from "./Subscribers.js"

export type Engine = "sqlite" | "pg"

/**
 * The unit of work. Every repository method runs on the connection of the
 * surrounding transaction, so `store.transaction(Effect.all([transition, append]))`
 * commits the state change and its outbound event together or not at all.
 */
export class Store extends Effect.Service<Store>()("@hlconnect/store/Store", {
  accessors: true,
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient
    const engine: Engine = sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })
    // The file behind the main SQLite database ("" for :memory:), so other connections
    // (the inbox writer's worker thread) can open the same one.
    const sqliteFile: Option.Option<string> =
      engine === "sqlite"
        ? yield* sql<{ name: string; file: string }>`PRAGMA database_list`.pipe(
            Effect.map((rows) =>
              Option.fromNullable(rows.find((r) => r.name === "main")?.file).pipe(Option.filter((f) => f !== ""))
            ),
            Effect.orElseSucceed(() => Option.none())
          )
        : Option.none()
    return {
      engine,
      /** SQLite only: the database file; `None` on PostgreSQL and for in-memory databases. */
      sqliteFile,
      /** Run `self` in one transaction (nested calls become savepoints). Any failure rolls back. */
      transaction: <A, E, R>(self: Effect.Effect<A, E, R>) => storage(sql.withTransaction(self)),
      /** The store's notion of now (epoch ms): Effect's Clock, so tests can use TestClock. */
      now: Clock.currentTimeMillis
    } as const
  })
}) {}

/** Every service the store provides. */
export type StoreServices = Store | OrderLines | Inbox | Outbox | Subscribers | ReconcileRuns

/** The repositories over whatever `SqlClient` is provided (schema must be migrated). */
export const layerServices: Layer.Layer<StoreServices, never, SqlClient> = Layer.mergeAll(
  Store.Default,
  OrderLines.Default,
  Inbox.Default,
  Outbox.Default,
  Subscribers.Default,
  ReconcileRuns.Default
)

/** Column names are a small fixed set and every row of every result is renamed: convert each name once. */
const memoized = (convert: (name: string) => string): ((name: string) => string) => {
  const seen = new Map<string, string>()
  return (name) => {
    let converted = seen.get(name)
    if (converted === undefined) {
      converted = convert(name)
      // Bounded: names come from our own SQL, but a runaway dynamic alias must not grow this forever.
      if (seen.size < 10_000) seen.set(name, converted)
    }
    return converted
  }
}

// Repositories write snake_case SQL and read camelCase rows.
const nameTransforms = {
  transformQueryNames: memoized(Str.camelToSnake),
  transformResultNames: memoized(Str.snakeToCamel)
} as const

const toStorageError = (what: string) => (cause: unknown) =>
  new StorageError({ message: `${what}: ${cause instanceof Error ? cause.message : String(cause)}`, cause })

/** The database file and the companions SQLite may create next to it. */
const sqliteFiles = (filename: string) => [filename, `${filename}-wal`, `${filename}-shm`, `${filename}-journal`]

/**
 * SQLite client with durable settings: WAL + synchronous=FULL (a commit
 * survives power loss, not only a crash), a busy timeout so other processes on
 * the same file wait instead of failing, and enforced foreign keys.
 * Private at rest (`PrivateFiles`): the parent directory is created 0700 on first run (an
 * existing wider one is warned about), the database and its `-wal`/`-shm`/`-journal` are 0600.
 */
export const sqliteClient = (options: {
  readonly filename: string
}): Layer.Layer<SqlClient | SqliteClient.SqliteClient, StorageError> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const onDisk = options.filename !== ":memory:"
      const files = onDisk ? sqliteFiles(options.filename) : []
      if (onDisk) {
        yield* PrivateFiles.ensureDirectory(dirname(options.filename)).pipe(
          Effect.mapError(toStorageError(`Cannot create data directory for ${options.filename}`))
        )
        // Before opening: SQLite creates the -wal/-shm with the database file's mode.
        yield* PrivateFiles.tightenFiles(files).pipe(
          Effect.mapError(toStorageError("Cannot make the SQLite files private"))
        )
      }
      const client = SqliteClient.layer({ filename: options.filename, ...nameTransforms }).pipe(
        Layer.tap((context) =>
          Effect.gen(function* () {
            const sql = Context.get(context, SqlClient)
            yield* sql`PRAGMA busy_timeout = 5000`
            yield* sql`PRAGMA synchronous = FULL`
            yield* sql`PRAGMA foreign_keys = ON`
          }).pipe(storage)
        ),
        Layer.mapError(toStorageError("Cannot open SQLite store"))
      )
      return PrivateFiles.buildOwnerOnly(client).pipe(
        Layer.tap(() =>
          PrivateFiles.tightenFiles(files).pipe(Effect.mapError(toStorageError("Cannot make the SQLite files private")))
        )
      )
    })
  )

/** Schema names we are willing to splice into `search_path`. */
const SchemaName = Schema.String.pipe(Schema.pattern(/^[a-z_][a-z0-9_]{0,62}$/))

/**
 * Add session settings to a PostgreSQL URL through libpq's `options` parameter,
 * so EVERY pooled connection gets them (a plain SET would reach only one).
 */
export const withSessionSettings = (url: string, settings: Readonly<Record<string, string>>): string => {
  const parsed = new URL(url)
  const extra = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)
  const existing = parsed.searchParams.get("options")
  parsed.searchParams.set("options", [existing, ...extra].filter((s) => s !== null && s !== "").join(" "))
  return parsed.toString()
}

/**
 * PostgreSQL client. `synchronous_commit=on` is forced per session and
 * verified, so a commit the store reports is on disk. `schema` (optional)
 * puts every table in that schema (created if needed) via `search_path`.
 */
export const pgClient = (options: {
  readonly url: Redacted.Redacted<string>
  readonly schema?: string
  readonly maxConnections?: number
}): Layer.Layer<SqlClient | PgClient.PgClient, StorageError> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const settings: Record<string, string> = { synchronous_commit: "on" }
      if (options.schema !== undefined) {
        settings.search_path = yield* Schema.decodeUnknown(SchemaName)(options.schema).pipe(
          Effect.mapError(toStorageError("Invalid PostgreSQL schema name"))
        )
      }
      const url = yield* Effect.try({
        try: () => withSessionSettings(Redacted.value(options.url), settings),
        catch: toStorageError("Invalid DATABASE_URL")
      })
      return PgClient.layer({
        url: Redacted.make(url),
        maxConnections: options.maxConnections ?? 10,
        applicationName: "@hlconnect/store",
        ...nameTransforms
      }).pipe(
        Layer.tap((context) =>
          Effect.gen(function* () {
            const sql = Context.get(context, SqlClient)
            if (options.schema !== undefined) {
              // IF NOT EXISTS still races between sessions; the advisory lock serialises replicas.
              const schema = options.schema
              yield* sql.withTransaction(
                Effect.zipRight(
                  sql`SELECT pg_advisory_xact_lock(7206431981)`,
                  sql`CREATE SCHEMA IF NOT EXISTS ${sql(schema)}`
                )
              )
            }
            const rows = yield* sql<{ synchronousCommit: string }>`SHOW synchronous_commit`
            const mode = rows[0]?.synchronousCommit
            if (mode === "off" || mode === "local" || mode === undefined) {
              return yield* new StorageError({
                message: `synchronous_commit is ${mode}; the store requires it on`,
                cause: mode
              })
            }
          }).pipe(storage)
        ),
        Layer.mapError(toStorageError("Cannot connect to PostgreSQL"))
      )
    })
  )

/** Run migrations (idempotent) once the client is up; the repositories are built after. */
export const layerMigrations: Layer.Layer<never, StorageError, SqlClient> = Layer.effectDiscard(Migrations.run())

const withMigratedClient = <E>(
  client: Layer.Layer<SqlClient, E>
): Layer.Layer<StoreServices | SqlClient, E | StorageError> =>
  layerServices.pipe(Layer.provideMerge(layerMigrations), Layer.provideMerge(client))

/** The store on a SQLite file, migrated. */
export const layerSqlite = (options: {
  readonly filename: string
}): Layer.Layer<StoreServices | SqlClient, StorageError> => withMigratedClient(sqliteClient(options))

/** The store on PostgreSQL, migrated. */
export const layerPg = (options: {
  readonly url: Redacted.Redacted<string>
  readonly schema?: string
  readonly maxConnections?: number
}): Layer.Layer<StoreServices | SqlClient, StorageError> => withMigratedClient(pgClient(options))

/** The store on the engine `target` names: the one place an engine is chosen. */
export const layerFor = (target: StoreTarget): Layer.Layer<StoreServices | SqlClient, StorageError> =>
  target._tag === "Postgres" ? layerPg({ url: target.url }) : layerSqlite({ filename: target.filename })

/** The store chosen by `StoreConfig`: PostgreSQL when `DATABASE_URL` is set, else SQLite under `DATA_DIR`. */
export const layer: Layer.Layer<StoreServices | SqlClient, StorageError | ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const target = yield* StoreConfig
    yield* Effect.logInfo(
      target._tag === "Postgres"
        ? "store: using PostgreSQL (DATABASE_URL)"
        : `store: using SQLite at ${target.filename}`
    )
    return layerFor(target)
  })
)
