/**
 * The one rule for `Authorization: Bearer <token>` that every HTTP surface uses (the relay's admin
 * API, GraphQL, the sandbox): the scheme is matched case-insensitively (RFC 7235), surrounding and
 * repeated whitespace is tolerated, and the token is compared in constant time against every
 * accepted one. Both sides are hashed to a fixed length first, so neither the presented token's
 * length nor the position of a mismatch shows in the timing, and no comparison exits early.
 */
import { HttpServerRequest } from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { createHash, timingSafeEqual } from "node:crypto"

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()

// Scheme, at least one space or tab, one token with no whitespace in it; blanks around are fine.
const credentials = /^[ \t]*bearer[ \t]+(\S+)[ \t]*$/i

/** The token of a `Bearer` `Authorization` header, if the header has that form. */
export const parse = (authorization: string | undefined): Option.Option<string> =>
  Option.fromNullable(authorization === undefined ? undefined : credentials.exec(authorization)?.[1])

/**
 * A stable name for the credential an `Authorization` header carries (the SHA-256 of its token, hex;
 * of "" when it has none): for keying per-caller state without ever holding or showing the token.
 */
export const fingerprint = (authorization: string | undefined): string =>
  digest(Option.getOrElse(parse(authorization), () => "")).toString("hex")

export interface BearerCheck {
  /** Whether the `Authorization` header carries one of the accepted tokens. */
  readonly authorize: (authorization: string | undefined) => boolean
}

/** A check accepting exactly `tokens` (none: nothing is accepted). */
export const make = (tokens: ReadonlyArray<Redacted.Redacted<string>>): BearerCheck => {
  const accepted = tokens.map((token) => digest(Redacted.value(token)))
  return {
    authorize: (authorization) => {
      const token = parse(authorization)
      // A missing token is still hashed and compared (against every accepted one), to keep the timing flat.
      const presented = digest(Option.getOrElse(token, () => ""))
      let matched = false
      for (const expected of accepted) matched = timingSafeEqual(expected, presented) || matched
      return matched && Option.isSome(token)
    }
  }
}

/**
 * `check` on the request's own `Authorization` header, failing with `refuse()` when it does not
 * pass: the body of every `HttpApiSecurity.bearer` handler. The platform hands such a handler the
 * header with its first seven characters sliced off (`"Bearer "`, case-sensitive, blanks kept), so
 * the handler ignores that value and the header is read here, by the one rule above.
 */
export const authorizeRequest = <E>(check: BearerCheck, refuse: () => E): Effect.Effect<void, E, HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest, (request) =>
    check.authorize(request.headers.authorization) ? Effect.void : Effect.fail(refuse())
  )
