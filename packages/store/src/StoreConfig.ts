/**
 * Which engine the store runs on, read once from the environment (`DATABASE_URL`, `DATA_DIR`).
 */
import { Config, Redacted } from "effect"
import { join } from "node:path"

/** Which engine the store runs on, decided once at start-up from the environment. */
export type StoreTarget =
  | { readonly _tag: "Sqlite"; readonly dataDir: string; readonly filename: string }
  | { readonly _tag: "Postgres"; readonly url: Redacted.Redacted<string> }

export const SqliteFileName = "hlconnect.db"

const isPostgresUrl = (raw: string): boolean => {
  if (!/^postgres(ql)?:\/\//i.test(raw)) return false
  try {
    new URL(raw)
    return true
  } catch {
    return false
  }
}

/**
 * `DATABASE_URL` (optional, secret): a `postgres://` or `postgresql://` URL selects
 * PostgreSQL; any other value is a config error naming the variable.
 * `DATA_DIR` (default `.data`): where the embedded SQLite file `hlconnect.db` lives.
 */
export const StoreConfig: Config.Config<StoreTarget> = Config.all({
  // Validated before it is redacted: a check on the redacted value loses the variable's name
  // (reported as `<root>`), one inside `Config.redacted` loses the message.
  databaseUrl: Config.string("DATABASE_URL").pipe(
    Config.validate({
      message: "must be a postgres:// or postgresql:// URL (unset it to use the embedded SQLite store)",
      validation: isPostgresUrl
    }),
    Config.map(Redacted.make),
    Config.option
  ),
  dataDir: Config.string("DATA_DIR").pipe(Config.withDefault(".data"))
}).pipe(
  Config.map(
    ({ databaseUrl, dataDir }): StoreTarget =>
      databaseUrl._tag === "Some"
        ? { _tag: "Postgres", url: databaseUrl.value }
        : { _tag: "Sqlite", dataDir, filename: join(dataDir, SqliteFileName) }
  )
)
