/**
 * Subscriber signing secrets are encrypted at rest: anyone who can read the database (a copy, a
 * backup, another local user) must not be able to sign deliveries as the relay. The store seals a
 * secret before it is written and opens it only for the delivery worker; the key never reaches
 * the database.
 *
 * AES-256-GCM, a random 96-bit nonce per value. The stored form is
 * `sb1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`: `sb1` is the format version, the key id
 * (8 hex digits of a SHA-256 of the key) names the key that sealed it, so a key ring of several
 * keys can open every row while the first key seals new ones (rotation). The version, the key id
 * and the row's own id are authenticated data: a sealed value copied onto another row, or edited,
 * does not open.
 *
 * Keys are written `rsk_` + base64 of 32 random bytes (`generateKey`); a ring is several of them,
 * comma-separated, the current one first.
 */
import { Context, Effect, Either, Layer, Redacted, Schema } from "effect"
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto"

export const keyPrefix = "rsk_"
const version = "sb1"
const keyBytes = 32
const nonceBytes = 12
const tagBytes = 16

/** A sealed value did not open: its key is not in the ring, or it is damaged or not ours. Never carries the value. */
export class SealedSecretUnreadable extends Schema.TaggedError<SealedSecretUnreadable>()("SealedSecretUnreadable", {
  /** The row (`subscriber_secrets.secret_id`) whose value did not open. */
  secretId: Schema.String,
  /** The key id it names, when it names one. */
  keyId: Schema.optional(Schema.String),
  reason: Schema.Literal("unknown-key", "authentication-failed", "malformed")
}) {
  override get message() {
    if (this.reason === "unknown-key") {
      return `secret ${this.secretId} is encrypted under key id ${this.keyId}, which is not among the configured keys: list that key after the current one`
    }
    if (this.reason === "authentication-failed") {
      return `secret ${this.secretId} does not decrypt under key id ${this.keyId}: the key is wrong or the stored value was altered`
    }
    return `secret ${this.secretId} is not a sealed value (${version}:<key id>:<data>)`
  }
}

/** One key of the ring: its public id and the key itself (never logged). */
export interface SecretKey {
  readonly id: string
  readonly key: Redacted.Redacted<Buffer>
}

/** The keys, the current one (which seals) first; every one opens. */
export type SecretKeyRing = readonly [SecretKey, ...Array<SecretKey>]

const keyIdOf = (key: Buffer): string =>
  createHash("sha256").update("hlconnect secret box key id\0").update(key).digest("hex").slice(0, 8)

/** A fresh key in the form the ring reads: `rsk_` + base64 of 32 random bytes. */
export const generateKey = (): Redacted.Redacted<string> =>
  Redacted.make(`${keyPrefix}${randomBytes(keyBytes).toString("base64")}`)

/**
 * Reads a comma-separated key list (`rsk_…,rsk_…`). The message of a `Left` says which key is
 * wrong and how, never what it was.
 */
export const parseKeyRing = (raw: Redacted.Redacted<string>): Either.Either<SecretKeyRing, string> => {
  const parts = Redacted.value(raw)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
  const keys: Array<SecretKey> = []
  for (const [i, part] of parts.entries()) {
    const label = parts.length === 1 ? "the key" : `key #${i + 1}`
    if (!part.startsWith(keyPrefix))
      return Either.left(`${label} must start with ${keyPrefix} (make one: ${keyPrefix} + base64 of 32 random bytes)`)
    const body = part.slice(keyPrefix.length)
    const key = Buffer.from(body, "base64")
    // Buffer.from skips what is not base64: re-encoding shows whether it read everything.
    if (key.toString("base64").replace(/=+$/, "") !== body.replace(/=+$/, ""))
      return Either.left(`${label} is not valid base64 after ${keyPrefix}`)
    if (key.length !== keyBytes) return Either.left(`${label} must be ${keyBytes} bytes (it has ${key.length})`)
    const id = keyIdOf(key)
    const earlier = keys.findIndex((k) => k.id === id)
    if (earlier >= 0) return Either.left(`${label} repeats key #${earlier + 1}`)
    keys.push({ id, key: Redacted.make(key) })
  }
  const [current, ...older] = keys
  return current === undefined
    ? Either.left(`must list at least one ${keyPrefix}… key`)
    : Either.right([current, ...older])
}

export interface SecretBoxService {
  /** The id of the key new values are sealed under. */
  readonly currentKeyId: string
  /** Seal `plaintext` for the row `secretId` under the current key. */
  readonly seal: (plaintext: Redacted.Redacted<string>, secretId: string) => Effect.Effect<string>
  /** Open the value sealed for the row `secretId`, under whichever key of the ring sealed it. */
  readonly open: (sealed: string, secretId: string) => Effect.Effect<Redacted.Redacted<string>, SealedSecretUnreadable>
  /** The key id a sealed value names (`undefined` when it is not a sealed value). */
  readonly keyIdOf: (sealed: string) => string | undefined
}

const aad = (keyId: string, secretId: string) => Buffer.from(`${version}:${keyId}:${secretId}`, "utf8")

const parse = (sealed: string): { readonly keyId: string; readonly data: Buffer } | undefined => {
  const match = /^sb1:([0-9a-f]{8}):([A-Za-z0-9_-]+)$/.exec(sealed)
  if (match === null || match[1] === undefined || match[2] === undefined) return undefined
  const data = Buffer.from(match[2], "base64url")
  return data.length > nonceBytes + tagBytes ? { keyId: match[1], data } : undefined
}

export const make = (ring: SecretKeyRing): SecretBoxService => {
  const [current] = ring
  const byId = new Map(ring.map((k) => [k.id, k.key]))
  return {
    currentKeyId: current.id,
    seal: (plaintext, secretId) =>
      Effect.sync(() => {
        const nonce = randomBytes(nonceBytes)
        const cipher = createCipheriv("aes-256-gcm", Redacted.value(current.key), nonce)
        cipher.setAAD(aad(current.id, secretId))
        const body = Buffer.concat([cipher.update(Redacted.value(plaintext), "utf8"), cipher.final()])
        return `${version}:${current.id}:${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64url")}`
      }),
    open: (sealed, secretId) =>
      Effect.suspend(() => {
        const parsed = parse(sealed)
        if (parsed === undefined) return Effect.fail(new SealedSecretUnreadable({ secretId, reason: "malformed" }))
        const key = byId.get(parsed.keyId)
        if (key === undefined)
          return Effect.fail(new SealedSecretUnreadable({ secretId, keyId: parsed.keyId, reason: "unknown-key" }))
        const nonce = parsed.data.subarray(0, nonceBytes)
        const tag = parsed.data.subarray(parsed.data.length - tagBytes)
        const body = parsed.data.subarray(nonceBytes, parsed.data.length - tagBytes)
        return Effect.try({
          try: () => {
            const decipher = createDecipheriv("aes-256-gcm", Redacted.value(key), nonce)
            decipher.setAAD(aad(parsed.keyId, secretId))
            decipher.setAuthTag(tag)
            return Redacted.make(Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8"))
          },
          catch: () => new SealedSecretUnreadable({ secretId, keyId: parsed.keyId, reason: "authentication-failed" })
        })
      }),
    keyIdOf: (sealed) => parse(sealed)?.keyId
  }
}

/** What seals and opens subscriber signing secrets; provided by the app that holds the keys (the relay). */
export class SecretBox extends Context.Tag("@hlconnect/store/SecretBox")<SecretBox, SecretBoxService>() {}

export const layer = (ring: SecretKeyRing): Layer.Layer<SecretBox> => Layer.succeed(SecretBox, make(ring))
