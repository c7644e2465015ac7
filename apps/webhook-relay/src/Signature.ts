/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
 * `${webhook-id}.${webhook-timestamp}.${raw body}`, sent as `v1,<base64>` entries in a
 * space-separated `webhook-signature` header. Done with node:crypto: the pure-JS SHA-256 of
 * the `standardwebhooks` package costs about twice the CPU per request.
 */
import { Either, Redacted, Schema } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"

/** No signature matched any active secret, or the signature headers are missing or unreadable. */
export class InvalidSignature extends Schema.TaggedError<InvalidSignature>()("InvalidSignature", {
  message: Schema.String
}) {}

/** The timestamp is outside the tolerance window: a replay (too old) or a skewed clock (too new). */
export class StaleTimestamp extends Schema.TaggedError<StaleTimestamp>()("StaleTimestamp", {
  message: Schema.String,
  direction: Schema.Literal("past", "future")
}) {}

/** A secret that is not `whsec_<base64>` (or bare base64) of at least 16 bytes. */
export class InvalidSecret extends Schema.TaggedError<InvalidSecret>()("InvalidSecret", {
  message: Schema.String
}) {}

export type VerificationError = InvalidSignature | StaleTimestamp

/** A decoded HMAC key; the bytes never leave this module except into `createHmac`. */
export interface SigningKey {
  readonly key: Redacted.Redacted<Buffer>
}

const base64 = /^[A-Za-z0-9+/]+={0,2}$/

/** Decodes `whsec_<base64>` once, at start-up. */
export const decodeSecret = (secret: Redacted.Redacted<string>): Either.Either<SigningKey, InvalidSecret> => {
  const raw = Redacted.value(secret).trim()
  const encoded = raw.startsWith("whsec_") ? raw.slice("whsec_".length) : raw
  if (!base64.test(encoded)) {
    return Either.left(
      new InvalidSecret({ message: "must be whsec_ followed by base64 (as Standard Webhooks libraries print it)" })
    )
  }
  const key = Buffer.from(encoded, "base64")
  if (key.length < 16)
    return Either.left(new InvalidSecret({ message: `decodes to ${key.length} bytes; at least 16 are needed` }))
  return Either.right({ key: Redacted.make(key) })
}

const mac = (key: SigningKey, id: string, timestamp: string, body: Uint8Array | string): Buffer =>
  createHmac("sha256", Redacted.value(key.key)).update(`${id}.${timestamp}.`).update(body).digest()

/** `v1,<base64>` for one key. */
export const sign = (key: SigningKey, id: string, timestampSeconds: number, body: Buffer | string): string =>
  `v1,${mac(key, id, String(timestampSeconds), body).toString("base64")}`

/** The three headers of a signed request, signed with every key (receivers accept any match: rotation). */
export const signedHeaders = (
  keys: ReadonlyArray<SigningKey>,
  id: string,
  timestampSeconds: number,
  body: Buffer | string
): Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string> => ({
  "webhook-id": id,
  "webhook-timestamp": String(timestampSeconds),
  "webhook-signature": keys.map((k) => sign(k, id, timestampSeconds, body)).join(" ")
})

export interface SignatureHeaders {
  readonly id: string | undefined
  readonly timestamp: string | undefined
  readonly signature: string | undefined
}

export interface VerifyOptions {
  readonly keys: ReadonlyArray<SigningKey>
  readonly toleranceSeconds: number
  readonly nowMillis: number
}

const timestampPattern = /^\d{1,12}$/
// A v1 signature is 32 bytes: 44 base64 characters.
const maxSignatureHeader = 4096

/**
 * Checks headers and raw body. The timestamp is checked first (cheap) and is part of the
 * signed content, so a valid signature cannot be replayed outside the window.
 */
export const verify = (
  headers: SignatureHeaders,
  body: Uint8Array,
  options: VerifyOptions
): Either.Either<{ readonly id: string; readonly timestamp: number }, VerificationError> => {
  const { id, signature, timestamp } = headers
  if (id === undefined || id === "" || timestamp === undefined || signature === undefined || signature === "") {
    return Either.left(
      new InvalidSignature({
        message: "missing webhook-id, webhook-timestamp or webhook-signature header (Standard Webhooks)"
      })
    )
  }
  if (!timestampPattern.test(timestamp)) {
    return Either.left(
      new InvalidSignature({ message: "webhook-timestamp must be whole seconds since the Unix epoch" })
    )
  }
  const ts = Number(timestamp)
  const now = Math.floor(options.nowMillis / 1000)
  if (ts < now - options.toleranceSeconds) {
    return Either.left(
      new StaleTimestamp({
        message: `webhook-timestamp is more than ${options.toleranceSeconds} s in the past`,
        direction: "past"
      })
    )
  }
  if (ts > now + options.toleranceSeconds) {
    return Either.left(
      new StaleTimestamp({
        message: `webhook-timestamp is more than ${options.toleranceSeconds} s in the future`,
        direction: "future"
      })
    )
  }
  if (signature.length > maxSignatureHeader) {
    return Either.left(new InvalidSignature({ message: "webhook-signature header is too long" }))
  }
  const candidates: Array<Buffer> = []
  for (const entry of signature.split(" ")) {
    const comma = entry.indexOf(",")
    if (comma < 0 || entry.slice(0, comma) !== "v1") continue
    const decoded = Buffer.from(entry.slice(comma + 1), "base64")
    if (decoded.length === 32) candidates.push(decoded)
  }
  if (candidates.length === 0) {
    return Either.left(new InvalidSignature({ message: "webhook-signature has no v1 signature" }))
  }
  for (const key of options.keys) {
    const expected = mac(key, id, timestamp, body)
    // Constant-time per comparison; lengths are equal (32) by construction.
    for (const candidate of candidates)
      if (timingSafeEqual(expected, candidate)) return Either.right({ id, timestamp: ts })
  }
  return Either.left(new InvalidSignature({ message: "no signature in webhook-signature matches an active secret" }))
}
