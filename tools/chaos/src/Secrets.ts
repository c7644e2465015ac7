/**
 * Every credential a campaign hands out (bearer tokens, webhook secrets and their base64 keys, the
 * admin token, API keys, validation tokens, download/view URLs) and every log file it captured;
 * `scan` looks for any of them, and for credential-shaped text in general, in those logs.
 */
import { Effect, Ref } from "effect"
import { randomBytes } from "node:crypto"
import { readFile } from "node:fs/promises"
import { FileFailure, messageOf } from "./Errors.js"

/** A bearer-style token with a recognisable prefix. */
export const newToken = (prefix: string): string => `${prefix}-${randomBytes(18).toString("base64url")}`

/** A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString("base64")}`

/** A relay secrets key (RELAY_SECRETS_KEY): `rsk_` + base64 of 32 random bytes. */
export const newSecretsKey = (): string => `rsk_${randomBytes(32).toString("base64")}`

interface Known {
  readonly label: string
  readonly value: string
}

export interface Hit {
  readonly file: string
  readonly line: number
  readonly what: string
}

export interface ScanReport {
  readonly files: number
  readonly bytes: number
  readonly secrets: number
  readonly tokens: number
  readonly hits: ReadonlyArray<Hit>
}

export interface Registry {
  /** A secret to look for verbatim; a `whsec_` secret adds its base64 key too. */
  readonly add: (label: string, value: string) => Effect.Effect<void>
  /** Many short-lived credentials (validation tokens, URLs): looked up word by word. */
  readonly addTokens: (label: string, values: Iterable<string>) => Effect.Effect<void>
  readonly addLog: (file: string) => Effect.Effect<void>
  readonly logs: Effect.Effect<ReadonlyArray<string>>
  readonly scan: Effect.Effect<ScanReport, FileFailure>
}

/** Credential-shaped text, whoever it belongs to. */
const patterns: ReadonlyArray<readonly [string, RegExp]> = [
  ["a download/view URL (/nf/…)", /\/nf\/(?:download|view)\/[0-9a-f]{8,}/g],
  ["a webhook secret (whsec_…)", /whsec_[A-Za-z0-9+/=]{8,}/g],
  ["a bearer token", /bearer\s+[A-Za-z0-9._~+/=-]{8,}/gi],
  ["a password in a database URL", /postgres(?:ql)?:\/\/[^:@/\s"]+:[^@\s"]+@/g]
]

const lineOf = (text: string, index: number): number => {
  let line = 1
  for (let i = text.indexOf("\n"); i !== -1 && i < index; i = text.indexOf("\n", i + 1)) line++
  return line
}

export const make: Effect.Effect<Registry> = Effect.gen(function* () {
  const known = yield* Ref.make<ReadonlyArray<Known>>([])
  const tokens = new Map<string, string>()
  const logs = yield* Ref.make<ReadonlyArray<string>>([])

  const add = (label: string, value: string) =>
    Ref.update(known, (all) => {
      const more: Array<Known> = [{ label, value }]
      if (value.startsWith("whsec_")) more.push({ label: `${label} (base64 key)`, value: value.slice("whsec_".length) })
      return [...all, ...more.filter((k) => k.value.length >= 8 && !all.some((a) => a.value === k.value))]
    })

  const scanFile = (file: string, secrets: ReadonlyArray<Known>) =>
    Effect.tryPromise({
      try: () => readFile(file, "utf8"),
      catch: (cause) => new FileFailure({ path: file, message: messageOf(cause) })
    }).pipe(
      Effect.map((text) => {
        const hits: Array<Hit> = []
        for (const secret of secrets) {
          const at = text.indexOf(secret.value)
          if (at !== -1) hits.push({ file, line: lineOf(text, at), what: secret.label })
        }
        for (const [what, pattern] of patterns) {
          for (const match of text.matchAll(pattern)) hits.push({ file, line: lineOf(text, match.index), what })
        }
        if (tokens.size > 0) {
          for (const match of text.matchAll(/[A-Za-z0-9_-]{16,}/g)) {
            const label = tokens.get(match[0])
            if (label !== undefined) hits.push({ file, line: lineOf(text, match.index), what: label })
          }
        }
        return { bytes: Buffer.byteLength(text), hits }
      })
    )

  return {
    add,
    addTokens: (label, values) =>
      Effect.sync(() => {
        for (const v of values) tokens.set(v, label)
      }),
    addLog: (file) => Ref.update(logs, (all) => (all.includes(file) ? all : [...all, file])),
    logs: Ref.get(logs),
    scan: Effect.gen(function* () {
      const secrets = yield* Ref.get(known)
      const files = yield* Ref.get(logs)
      const results = yield* Effect.forEach(files, (f) => scanFile(f, secrets), { concurrency: 2 })
      return {
        files: files.length,
        bytes: results.reduce((n, r) => n + r.bytes, 0),
        secrets: secrets.length,
        tokens: tokens.size,
        hits: results.flatMap((r) => r.hits)
      }
    })
  }
})
