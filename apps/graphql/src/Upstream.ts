/**
 * What GraphQL callers may spend of HL Connect. The client is shared with the relay and the
 * reconciler, and HL Connect's rate limit is the retailer's: one query must not turn into
 * thousands of calls. Two bounds, checked before every call a GraphQL request would make:
 *
 * - a **budget per request** (`GRAPHQL_MAX_UPSTREAM_CALLS`): past it, the fields that would call
 *   HL Connect fail with `UpstreamBudgetExceeded` and nothing is sent;
 * - a **token bucket per API key** (`GRAPHQL_UPSTREAM_RATE` calls per second, bursts of
 *   `GRAPHQL_UPSTREAM_BURST`), shared by the key's concurrent requests: an empty bucket fails the
 *   field with `UpstreamRateLimited` and a retry hint. Buckets are keyed by the key's SHA-256,
 *   never by the key itself, and only keys that passed authentication reach here (so there are
 *   at most as many buckets as configured keys).
 *
 * Identical calls within one request are made once (the request's loaders, `Context`), so these
 * bounds count distinct calls.
 */
import { Clock, Effect } from "effect"
import { BearerAuth } from "@hlconnect/service"
import { UpstreamBudgetExceeded, UpstreamRateLimited } from "./Errors.js"

export interface UpstreamSettings {
  /** HL Connect calls one GraphQL request may make. */
  readonly maxCallsPerRequest: number
  /** Calls per second per API key, on average. */
  readonly ratePerSecond: number
  /** Calls per API key at once, from a full bucket. */
  readonly burst: number
}

export const defaultUpstreamSettings: UpstreamSettings = { maxCallsPerRequest: 200, ratePerSecond: 50, burst: 200 }

/** One request's permission to call HL Connect once more. */
export interface Gate {
  readonly admit: Effect.Effect<void, UpstreamBudgetExceeded | UpstreamRateLimited>
}

export interface Upstream {
  /** The gate of a new request made with this `Authorization` header. */
  readonly forRequest: (authorization: string | null | undefined) => Gate
}

/** The bucket's name for a key: its fingerprint, so no key is ever held or shown here. */
const keyIdOf = (authorization: string | null | undefined): string => BearerAuth.fingerprint(authorization ?? undefined)

interface Bucket {
  tokens: number
  at: number
}

export const make = (settings: UpstreamSettings): Upstream => {
  const buckets = new Map<string, Bucket>()

  /** Takes a token from the key's bucket, or says how long until one is there. */
  const take = (keyId: string, now: number): number | undefined => {
    const bucket = buckets.get(keyId) ?? { tokens: settings.burst, at: now }
    bucket.tokens = Math.min(
      settings.burst,
      bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * settings.ratePerSecond
    )
    bucket.at = now
    buckets.set(keyId, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return undefined
    }
    return ((1 - bucket.tokens) / settings.ratePerSecond) * 1000
  }

  return {
    forRequest: (authorization) => {
      const keyId = keyIdOf(authorization)
      let calls = 0
      const limit = settings.maxCallsPerRequest
      return {
        admit: Effect.flatMap(
          Clock.currentTimeMillis,
          (now): Effect.Effect<void, UpstreamBudgetExceeded | UpstreamRateLimited> => {
            if (calls >= limit) return Effect.fail(new UpstreamBudgetExceeded({ limit }))
            const waitMillis = take(keyId, now)
            if (waitMillis !== undefined)
              return Effect.fail(
                new UpstreamRateLimited({ retryAfterSeconds: Math.max(1, Math.ceil(waitMillis / 1000)) })
              )
            calls++
            return Effect.void
          }
        )
      }
    }
  }
}
