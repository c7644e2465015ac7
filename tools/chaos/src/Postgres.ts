/**
 * A fresh PostgreSQL schema for one scenario: created and migrated through the store, handed to
 * the processes as `DATABASE_URL` with `options=-c search_path=<schema>`, dropped afterwards.
 */
import { Store } from "@hlconnect/store"
import { Context, Duration, Effect, Layer, Redacted, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import { SetupFailed } from "./Errors.js"

/**
 * The one statement the store has no repository for (dropping a schema). tools/chaos does not
 * depend on `@effect/sql`, so its `SqlClient` is reached by its service key; `ClientFits` checks
 * at compile time that the store's client really has this shape.
 */
interface RawSql {
  readonly unsafe: (statement: string) => Effect.Effect<unknown, unknown>
}
type StoreClient = Layer.Layer.Success<ReturnType<typeof Store.pgClient>>
type Assert<T extends true> = T
export type ClientFits = Assert<StoreClient extends RawSql ? true : false>
/** Identified as what `Store.pgClient` provides, seen as `RawSql`. */
const SqlClient = Context.GenericTag<StoreClient, RawSql>("@effect/sql/SqlClient")

const client = (url: string) =>
  Store.pgClient({ url: Redacted.make(url), maxConnections: 1 }).pipe(
    Layer.mapError((e) => new SetupFailed({ message: `PostgreSQL unreachable (set DATABASE_URL): ${e.message}` }))
  )

const drop = (url: string, schema: string) =>
  Effect.flatMap(SqlClient, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).pipe(
    Effect.provide(client(url)),
    Effect.tapError((e) => Effect.logWarning(`could not drop schema ${schema}`, e)),
    Effect.ignore
  )

export interface FreshSchema {
  readonly schema: string
  /** `url` with `options=-c search_path=<schema>` (every pooled connection gets it). */
  readonly appUrl: string
}

/** Creates `chaos_<random>` (and the store's tables in it); drops it when the scope closes. */
export const freshSchema = (url: string): Effect.Effect<FreshSchema, SetupFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const schema = `chaos_${randomBytes(6).toString("hex")}`
    yield* Effect.acquireRelease(
      Layer.build(Store.layerPg({ url: Redacted.make(url), schema, maxConnections: 1 })).pipe(
        Effect.scoped,
        Effect.timeoutFail({
          duration: Duration.seconds(20),
          onTimeout: () => new SetupFailed({ message: `PostgreSQL at ${redact(url)}: no answer in 20 s` })
        }),
        Effect.mapError((e) =>
          e instanceof SetupFailed ? e : new SetupFailed({ message: `PostgreSQL at ${redact(url)}: ${e.message}` })
        )
      ),
      () => drop(url, schema)
    )
    return { schema, appUrl: Store.withSessionSettings(url, { search_path: schema }) }
  })

/** The URL without its password, for messages. */
export const redact = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(unparseable URL)"
  }
}
