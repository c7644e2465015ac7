/**
 * Data at rest on this machine is private: the data directory (SQLite database, launcher
 * secrets) holds subscriber secrets, inbound bodies with validation tokens and customer names
 * and emails, so it is the owner's only — directories 0700, files 0600. One module decides
 * this for the store's SQLite file and the launcher's `DATA_DIR`.
 *
 * A directory that already exists wider than 0700 is not changed (it may be someone's shared
 * directory): a warning names it, its mode and the fix. The database files are the store's own:
 * wider ones are tightened to 0600, and the log says so.
 */
import { Data, Effect, Layer } from "effect"
import { chmod, mkdir, stat } from "node:fs/promises"
import { isMainThread } from "node:worker_threads"

export class PrivateFileError extends Data.TaggedError("PrivateFileError")<{
  readonly message: string
  readonly cause: unknown
}> {}

export const directoryMode = 0o700
export const fileMode = 0o600

/** The permission bits that let anyone but the owner in. */
const othersBits = 0o077

/** POSIX permissions are meaningless on Windows: nothing to check or tighten there. */
const posix = process.platform !== "win32"

export const formatMode = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, "0")}`

const isMissing = (error: unknown) =>
  typeof error === "object" && error !== null && "code" in error && error.code === "ENOENT"

/** The permission bits of `path`, or `undefined` when there is nothing there. */
const modeOf = (path: string): Effect.Effect<number | undefined, PrivateFileError> =>
  Effect.tryPromise({
    try: () =>
      stat(path).then(
        (s) => s.mode & 0o777,
        (error: unknown) => (isMissing(error) ? undefined : Promise.reject(error))
      ),
    catch: (cause) => new PrivateFileError({ message: `cannot stat ${path}`, cause })
  })

/** `dir` and its missing parents created 0700; an existing one is left as it is. */
export const createDirectory = (dir: string): Effect.Effect<void, PrivateFileError> =>
  Effect.tryPromise({
    try: () => mkdir(dir, { recursive: true, mode: directoryMode }),
    catch: (cause) => new PrivateFileError({ message: `cannot create directory ${dir}`, cause })
  }).pipe(Effect.asVoid)

/**
 * `dir` created 0700 (with its missing parents) when absent; when it exists wider than that, a
 * warning naming it, its mode and the fix (it is left as it is). Called once per directory at
 * start-up (the store for its SQLite file's, the launcher for `DATA_DIR` on PostgreSQL).
 */
export const ensureDirectory = (dir: string): Effect.Effect<void, PrivateFileError> =>
  Effect.gen(function* () {
    const existing = yield* modeOf(dir)
    if (existing === undefined) return yield* createDirectory(dir)
    if (posix && (existing & othersBits) !== 0) {
      yield* Effect.logWarning(
        `data directory ${dir} is mode ${formatMode(existing)}: other local users can read the secrets and customer data in it; fix: chmod 700 ${dir}`
      )
    }
  })

/**
 * Tighten the files that exist among `paths` to 0600, logging each one that was wider (a
 * database made before this check). Missing ones are skipped.
 */
export const tightenFiles = (paths: ReadonlyArray<string>): Effect.Effect<void, PrivateFileError> =>
  Effect.forEach(
    paths,
    (path) =>
      Effect.gen(function* () {
        const mode = yield* modeOf(path)
        if (!posix || mode === undefined || (mode & othersBits) === 0) return
        yield* Effect.tryPromise({
          try: () => chmod(path, fileMode),
          catch: (cause) => new PrivateFileError({ message: `cannot chmod ${path} to ${formatMode(fileMode)}`, cause })
        })
        yield* Effect.logWarning(
          `${path} was mode ${formatMode(mode)}: tightened to ${formatMode(fileMode)} (it holds secrets and customer data)`
        )
      }),
    { discard: true }
  )

/**
 * Build `layer` with the process umask at 077, so every file it creates (the SQLite database and
 * its `-wal`/`-shm`) is born owner-only, then restore the previous umask: the umask is
 * process-wide, and other code in the process (the launcher runs every app) keeps its own.
 * Worker threads cannot change the umask; there the caller's `tightenFiles` is the guarantee.
 */
export const buildOwnerOnly = <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  !posix || !isMainThread
    ? layer
    : Layer.scopedContext(
        Effect.acquireUseRelease(
          Effect.sync(() => process.umask(othersBits)),
          () => Layer.build(layer),
          (previous) => Effect.sync(() => process.umask(previous))
        )
      )
