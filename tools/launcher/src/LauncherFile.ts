/**
 * `<DATA_DIR>/launcher.json` (mode 0600): the secrets a zero-config run generated, kept so a
 * restart (and the stored demo subscriber) keeps them, and where everything listens, so
 * `npm run demo` finds the running launcher.
 */
import { PrivateFiles, SecretBox } from "@hlconnect/store"
import { Data, Effect, Option, Redacted, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { chmod, readFile, rename, writeFile } from "node:fs/promises"
import { dirname, join, resolve } from "node:path"

export class LauncherFileError extends Data.TaggedError("LauncherFileError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

const Secret = Schema.Redacted(Schema.String)

export const GeneratedSecrets = Schema.Struct({
  relayWebhookSecret: Secret,
  relayAdminToken: Secret,
  graphqlApiKey: Secret,
  sandboxToken: Secret,
  demoSubscriberSecret: Secret,
  /** RELAY_SECRETS_KEY: seals subscriber signing secrets in the store. */
  relaySecretsKey: Secret
})
export type GeneratedSecrets = typeof GeneratedSecrets.Type

/** As stored: files written before the relay sealed secrets have no `relaySecretsKey` (one is added). */
const StoredSecrets = Schema.Struct({ ...GeneratedSecrets.fields, relaySecretsKey: Schema.optional(Secret) })

export const Endpoints = Schema.Struct({
  graphql: Schema.String,
  relayIngest: Schema.String,
  /** Whether the apps talk to the in-process sandbox (the demo refuses to buy from a real HL Connect). */
  sandbox: Schema.Boolean
})
export type Endpoints = typeof Endpoints.Type

export const LauncherFile = Schema.Struct({
  generated: GeneratedSecrets,
  /** Written once everything listens. */
  endpoints: Schema.optional(Endpoints)
})
export type LauncherFile = typeof LauncherFile.Type

const StoredFile = Schema.Struct({ ...LauncherFile.fields, generated: StoredSecrets })
type StoredFile = typeof StoredFile.Type

const FileJson = Schema.parseJson(LauncherFile, { space: 2 })
const StoredFileJson = Schema.parseJson(StoredFile)

export const fileName = "launcher.json"

export const pathIn = (dataDir: string): string => resolve(join(dataDir, fileName))

const token = (prefix: string, bytes: number) => Redacted.make(`${prefix}${randomBytes(bytes).toString("base64url")}`)
// Standard Webhooks secrets are `whsec_` + base64 of the key bytes.
const webhookSecret = () => Redacted.make(`whsec_${randomBytes(32).toString("base64")}`)

export const generate = (): GeneratedSecrets => ({
  relayWebhookSecret: webhookSecret(),
  relayAdminToken: token("adm_", 24),
  graphqlApiKey: token("hlc_", 24),
  sandboxToken: token("sbx_", 24),
  demoSubscriberSecret: webhookSecret(),
  relaySecretsKey: SecretBox.generateKey()
})

const isMissing = (error: unknown) =>
  typeof error === "object" && error !== null && "code" in error && error.code === "ENOENT"

/** The file as stored, or `None` when there is none yet. */
const readStored = (path: string): Effect.Effect<Option.Option<StoredFile>, LauncherFileError> =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () =>
        readFile(path, "utf8").then(Option.some, (error: unknown) =>
          isMissing(error) ? Option.none() : Promise.reject(error)
        ),
      catch: (cause) => new LauncherFileError({ message: `cannot read ${path}`, cause })
    })
    if (Option.isNone(text)) return Option.none()
    const decoded = yield* Schema.decodeUnknown(StoredFileJson)(text.value).pipe(
      // The file holds secrets: name the problem, never echo the content.
      Effect.mapError(
        () => new LauncherFileError({ message: `${path} is not a launcher file; delete it to generate new secrets` })
      )
    )
    return Option.some(decoded)
  })

/** The file with every secret; `added` when it is from before `relaySecretsKey` and got a new one. */
const complete = (stored: StoredFile): { readonly file: LauncherFile; readonly added: boolean } => {
  const { relaySecretsKey, ...rest } = stored.generated
  return relaySecretsKey === undefined
    ? { file: { ...stored, generated: { ...rest, relaySecretsKey: SecretBox.generateKey() } }, added: true }
    : { file: { ...stored, generated: { ...rest, relaySecretsKey } }, added: false }
}

/** The file, or `None` when there is none yet. */
export const read = (path: string): Effect.Effect<Option.Option<LauncherFile>, LauncherFileError> =>
  Effect.map(
    readStored(path),
    Option.map((stored) => complete(stored).file)
  )

/** Writes atomically (a temporary file renamed over), readable by the owner only. */
export const write = (path: string, file: LauncherFile): Effect.Effect<void, LauncherFileError> =>
  Effect.gen(function* () {
    const text = yield* Schema.encode(FileJson)(file).pipe(
      Effect.mapError((cause) => new LauncherFileError({ message: `cannot encode ${path}`, cause }))
    )
    const temporary = `${path}.${process.pid}.tmp`
    // DATA_DIR is private (0700) when the launcher creates it.
    yield* PrivateFiles.createDirectory(dirname(path)).pipe(
      Effect.mapError((cause) => new LauncherFileError({ message: `cannot create ${dirname(path)}`, cause }))
    )
    yield* Effect.tryPromise({
      try: async () => {
        await writeFile(temporary, `${text}\n`, { mode: 0o600 })
        await chmod(temporary, 0o600)
        await rename(temporary, path)
      },
      catch: (cause) => new LauncherFileError({ message: `cannot write ${path}`, cause })
    })
  })

/**
 * The stored secrets, generated and stored on the first run; a secret added since (the relay's
 * secrets key) is generated and stored at once, before any app can use it.
 */
export const loadOrCreate = (path: string): Effect.Effect<LauncherFile, LauncherFileError> =>
  Effect.flatMap(readStored(path), (existing) =>
    Option.match(existing, {
      onSome: (stored) => {
        const { file, added } = complete(stored)
        return added ? Effect.as(write(path, file), file) : Effect.succeed(file)
      },
      onNone: () => {
        const created: LauncherFile = { generated: generate() }
        return Effect.as(write(path, created), created)
      }
    })
  )
