/**
 * The relay's verdict on one inbound request: Standard Webhooks verification on the raw
 * bytes, then the webhook id, UTF-8 and the event schema. Plain data in, plain data out, so
 * it runs where the commit runs: on the SQLite inbox writer's worker thread (which imports
 * this module by its URL and calls `makeAdmission`), or on the receiving thread before
 * `Inbox.appendBatch` (PostgreSQL). Keep its imports light: a worker loads them all.
 */
import type { Admission } from "@hlconnect/store"
import { Duration, Either, Redacted, Schema } from "effect"
import { decodeJson, parseJson } from "./CommerceEvents.js"
import { surelyAccepted } from "./EventPrecheck.js"
import type { RelayConfig } from "./RelayConfig.js"
import { type SigningKey, verify } from "./Signature.js"

export const source = "commerce"

export interface AdmissionSettings {
  readonly keys: ReadonlyArray<SigningKey>
  readonly toleranceSeconds: number
}

const identifier = /^[A-Za-z0-9][A-Za-z0-9._:#/@-]{0,127}$/
const utf8 = new TextDecoder("utf-8", { fatal: true })

const reject = (status: number, error: string, reason: string, message: string): Admission.Verdict => ({
  _tag: "Reject",
  status,
  error,
  message,
  reason
})

/** Reasons whose request was never verified (the rest passed the signature check). */
export const unverifiedReasons: ReadonlySet<string> = new Set(["bad_signature", "stale_past", "stale_future"])

export const admit = (settings: AdmissionSettings, raw: Admission.RawInbound, nowMillis: number): Admission.Verdict => {
  const verified = verify({ id: raw.id, timestamp: raw.timestamp, signature: raw.signature }, raw.body, {
    keys: settings.keys,
    toleranceSeconds: settings.toleranceSeconds,
    nowMillis
  })
  if (Either.isLeft(verified)) {
    const e = verified.left
    return e._tag === "StaleTimestamp"
      ? reject(401, "stale_timestamp", `stale_${e.direction}`, e.message)
      : reject(401, "invalid_signature", "bad_signature", e.message)
  }
  const id = verified.right.id
  if (!identifier.test(id)) {
    return reject(
      400,
      "invalid_webhook_id",
      "malformed",
      "webhook-id must be 1–128 letters, digits or . _ : # / @ - (starting with a letter or digit)"
    )
  }
  let text: string
  try {
    text = utf8.decode(raw.body)
  } catch {
    return reject(400, "malformed_body", "malformed", "body is not valid UTF-8")
  }
  const json = parseJson(text)
  if (Either.isLeft(json)) return reject(400, "malformed_body", "malformed", json.left.message)
  // The ordinary event is recognised without the full decode; anything else is decided (and explained) by the schemas.
  const recognised = surelyAccepted(json.right)
  if (recognised !== undefined)
    return { _tag: "Admit", event: { eventId: id, source, eventType: recognised, body: text } }
  const event = decodeJson(json.right)
  if (Either.isLeft(event)) {
    const status = event.left.status
    return status === 400
      ? reject(400, "malformed_body", "malformed", event.left.message)
      : reject(status, "invalid_event", "invalid", event.left.message)
  }
  return { _tag: "Admit", event: { eventId: id, source, eventType: event.right.type, body: text } }
}

/** The settings as they cross into a worker thread: plain bytes (structured clone drops `Redacted`). */
const WorkerOptions = Schema.Struct({
  keys: Schema.Array(Schema.Uint8ArrayFromSelf).pipe(Schema.minItems(1)),
  toleranceSeconds: Schema.Int.pipe(Schema.nonNegative())
})

export const settingsOf = (config: RelayConfig): AdmissionSettings => ({
  keys: config.webhookKeys,
  toleranceSeconds: Math.floor(Duration.toSeconds(config.timestampTolerance))
})

/** Called by the inbox writer's worker with `module(config).options`. */
export const makeAdmission: Admission.MakeAdmission = (options) => {
  const decoded = Schema.decodeUnknownSync(WorkerOptions)(options)
  const settings: AdmissionSettings = {
    keys: decoded.keys.map((bytes) => ({ key: Redacted.make(Buffer.from(bytes)) })),
    toleranceSeconds: decoded.toleranceSeconds
  }
  return (raw) => admit(settings, raw, Date.now())
}

/** This module, for `InboxWriter.makeWith({ admission })`. */
export const module = (settings: AdmissionSettings): Admission.AdmissionModule => ({
  url: import.meta.url,
  options: {
    keys: settings.keys.map((k) => new Uint8Array(Redacted.value(k.key))),
    toleranceSeconds: settings.toleranceSeconds
  }
})
