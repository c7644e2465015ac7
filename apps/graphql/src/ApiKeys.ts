/**
 * Bearer API keys, checked by the one rule every app uses (`BearerAuth` of `@hlconnect/service`:
 * scheme case-insensitive, blanks tolerated, constant-time comparison of SHA-256 digests against
 * every key, no early exit).
 */
import { BearerAuth } from "@hlconnect/service"

export type ApiKeyCheck = BearerAuth.BearerCheck

export const make = BearerAuth.make
