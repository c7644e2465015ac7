/**
 * Bearer API keys. Keys and presented tokens are hashed to a fixed length first, so the
 * comparison takes the same time whatever the lengths, and every key is compared (no early exit).
 */
import { Option, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()

export interface ApiKeyCheck {
  /** Whether the `Authorization` header carries one of the keys. */
  readonly authorize: (authorization: string | undefined) => boolean
}

/** The token of `Authorization: Bearer <token>`, if the header has that form. */
export const bearerToken = (authorization: string | undefined): Option.Option<string> => {
  const match = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization)
  return Option.fromNullable(match?.[1])
}

export const make = (keys: ReadonlyArray<Redacted.Redacted<string>>): ApiKeyCheck => {
  const digests = keys.map((key) => digest(Redacted.value(key)))
  return {
    authorize: (authorization) => {
      const token = bearerToken(authorization)
      // A missing token is still compared, against a dummy, to keep the timing flat.
      const presented = digest(Option.getOrElse(token, () => ""))
      let matched = false
      for (const key of digests) matched = timingSafeEqual(key, presented) || matched
      return matched && Option.isSome(token)
    }
  }
}
