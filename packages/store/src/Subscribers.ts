/**
 * Webhook subscribers: URL, event filter, enabled state, sealed signing secrets with rotation,
 * and the failing-streak bookkeeping the relay acts on.
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { MultiLineText, SingleLineText } from "@hlconnect/core"
import { Clock, Effect, Redacted, Schema } from "effect"
import { InvalidInput, NotFound, type StorageError } from "./Errors.js"
import { SecretBox, type SealedSecretUnreadable } from "./SecretBox.js"
import {
  DbFlag,
  DbInt,
  DbJson,
  DbMillis,
  decodeInput,
  decodeRows,
  Identifier,
  newId,
  storage
} from "./internal/codec.js"

/** An event filter entry: an exact type (`order.paid`), a prefix (`order.*`) or everything (`*`). */
export const EventPattern = Schema.String.pipe(
  Schema.pattern(/^(\*|[A-Za-z0-9][A-Za-z0-9._:-]*(\.\*)?)$/, {
    message: () => "must be like order.paid, order.* or *"
  }),
  Schema.maxLength(128)
)

export const matchesFilter = (filter: ReadonlyArray<string>, eventType: string): boolean =>
  filter.some((p) => p === "*" || p === eventType || (p.endsWith(".*") && eventType.startsWith(p.slice(0, -1))))

/** A subscriber as every read API returns it: the signing secrets only as masked hints. */
export class Subscriber extends Schema.Class<Subscriber>("Subscriber")({
  subscriberId: Schema.String,
  url: Schema.String,
  /** The newest secret's hint, e.g. `whsec_…abcd`: enough to recognise a secret, useless to forge a signature. */
  secretHint: Schema.String,
  eventFilter: Schema.compose(DbJson, Schema.Array(Schema.String)),
  enabled: DbFlag,
  disabledReason: Schema.OptionFromNullOr(Schema.String),
  disabledAt: Schema.OptionFromNullOr(DbMillis),
  createdAt: DbMillis,
  updatedAt: DbMillis,
  /** The first failed delivery attempt with no successful one since; `None` while healthy. */
  failingSince: Schema.OptionFromNullOr(DbMillis),
  /** The latest failed attempt of the current failing streak. */
  lastFailureAt: Schema.OptionFromNullOr(DbMillis),
  /** The highest warning (percent of the disable period) already given for this streak; 0 for none. */
  failureWarning: DbInt
}) {}

/** One active signing secret, as read APIs show it: never the secret itself. */
export class SubscriberSecret extends Schema.Class<SubscriberSecret>("SubscriberSecret")({
  secretId: Schema.String,
  subscriberId: Schema.String,
  secretHint: Schema.String,
  createdAt: DbMillis,
  /** `None` for the newest secret; a rotated-out one is dropped at this time. */
  expiresAt: Schema.OptionFromNullOr(DbMillis)
}) {}

/** Secrets a subscriber may have active at once (the newest plus ones still in their overlap). */
export const MaxActiveSecrets = 5
/** The longest overlap a rotated-out secret may keep. */
export const MaxOverlapMillis = 30 * 24 * 3600 * 1000

// Caller text (the admin API's URL and disable reason) follows core's one rule (`Text`).
const Url = SingleLineText({ identifier: "SubscriberUrl", maxLength: 2048 }).pipe(
  Schema.filter((s) => {
    try {
      const u = new URL(s)
      return u.protocol === "https:" || u.protocol === "http:" || "must be an http(s) URL"
    } catch {
      return "must be an absolute URL"
    }
  })
)

export const NewSubscriber = Schema.Struct({
  url: Url,
  signingSecret: Schema.RedactedFromSelf(Schema.String.pipe(Schema.minLength(16), Schema.maxLength(512))),
  eventFilter: Schema.Array(EventPattern).pipe(Schema.minItems(1), Schema.maxItems(100))
})
export type NewSubscriber = typeof NewSubscriber.Type

const Millis = Schema.Int.pipe(Schema.nonNegative())
const DisableRequest = Schema.Struct({
  subscriberId: Identifier,
  reason: MultiLineText({ identifier: "DisabledReason", maxLength: 1000 })
})
const RotateRequest = Schema.Struct({
  subscriberId: Identifier,
  secret: NewSubscriber.fields.signingSecret,
  overlapMs: Schema.Int.pipe(
    Schema.between(0, MaxOverlapMillis, { message: () => `must be between 0 and ${MaxOverlapMillis} ms (30 days)` })
  )
})
const SubscriberIds = Schema.Array(Identifier).pipe(Schema.maxItems(1000))
const WarningRequest = Schema.Struct({
  subscriberId: Identifier,
  failingSince: Millis,
  level: Schema.Int.pipe(Schema.between(1, 100))
})
const AutoDisableRequest = Schema.Struct({ ...DisableRequest.fields, failingSince: Millis })

/** Keep a recognisable prefix (`whsec_`) and the last four characters. */
export const maskSecret = (secret: Redacted.Redacted<string>): string => {
  const value = Redacted.value(secret)
  const prefix = /^[a-z]+_/i.exec(value)?.[0] ?? ""
  return value.length >= 16 ? `${prefix}…${value.slice(-4)}` : `${prefix}…`
}

/** Columns every read API selects (the secrets live in `subscriber_secrets`, read by `signingSecrets` only). */
export const publicColumns =
  "subscriber_id, url, secret_hint, event_filter, enabled, disabled_reason, disabled_at, created_at, updated_at, failing_since, last_failure_at, failure_warning"

const secretInfoColumns = "secret_id, subscriber_id, secret_hint, created_at, expires_at"

/**
 * A secret as stored: `secret` sealed under the key `keyId` (`SecretBox`), or — `keyId` NULL — in
 * plaintext, written before secrets were sealed (migration 0007); `resealSecrets` seals those.
 */
const StoredSecret = Schema.Struct({
  secretId: Schema.String,
  secret: Schema.Redacted(Schema.String),
  keyId: Schema.NullOr(Schema.String)
})

export class Subscribers extends Effect.Service<Subscribers>()("@hlconnect/store/Subscribers", {
  accessors: true,
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient
    const decodeSubscribers = decodeRows(Subscriber, "subscriber")
    const decodeSecretInfos = decodeRows(SubscriberSecret, "subscriber secret")
    const decodeStored = decodeRows(StoredSecret, "subscriber secret")
    const decodeCount = decodeRows(Schema.Struct({ n: DbInt }), "secret count")
    const select = sql.literal(publicColumns)
    const selectSecretInfo = sql.literal(secretInfoColumns)
    /** Active at `now`: the newest (no expiry) and rotated-out ones still in their overlap. */
    const active = (now: number) => sql`(expires_at IS NULL OR expires_at > ${now})`

    const find = (id: string) =>
      sql`SELECT ${select} FROM subscribers WHERE subscriber_id = ${id}`.pipe(
        Effect.flatMap(decodeSubscribers),
        Effect.flatMap((rows) =>
          rows[0] === undefined ? Effect.fail(new NotFound({ entity: "subscriber", id })) : Effect.succeed(rows[0])
        )
      )

    /** Sealed before it is written: the database never holds a signing secret in plaintext. */
    const insertSecret = (subscriberId: string, secret: Redacted.Redacted<string>, now: number) =>
      Effect.gen(function* () {
        const box = yield* SecretBox
        const secretId = yield* newId
        const sealed = yield* box.seal(secret, secretId)
        yield* sql`INSERT INTO subscriber_secrets ${sql.insert({
          secretId,
          subscriberId,
          secret: sealed,
          keyId: box.currentKeyId,
          secretHint: maskSecret(secret),
          createdAt: now,
          expiresAt: null
        })}`
      })

    /** A stored secret in the clear (a row from before sealing is read as it is until `resealSecrets` seals it). */
    const openStored = (box: typeof SecretBox.Service, row: typeof StoredSecret.Type) =>
      row.keyId === null ? Effect.succeed(row.secret) : box.open(Redacted.value(row.secret), row.secretId)

    const create = (input: NewSubscriber): Effect.Effect<Subscriber, InvalidInput | StorageError, SecretBox> =>
      Effect.gen(function* () {
        const sub = yield* decodeInput(NewSubscriber)(input)
        const now = yield* Clock.currentTimeMillis
        const subscriberId = yield* newId
        yield* sql.withTransaction(
          Effect.zipRight(
            sql`INSERT INTO subscribers ${sql.insert({
              subscriberId,
              url: sub.url,
              secretHint: maskSecret(sub.signingSecret),
              eventFilter: JSON.stringify(sub.eventFilter),
              enabled: 1,
              createdAt: now,
              updatedAt: now
            })}`,
            insertSecret(subscriberId, sub.signingSecret, now)
          )
        )
        return yield* find(subscriberId).pipe(Effect.orDie)
      }).pipe(storage)

    /**
     * A subscriber from configuration: created once per URL however many replicas seed at the
     * same time (a unique seed key; the losers of the race change nothing). `created` says
     * whether this call made it.
     */
    const seed = (
      input: NewSubscriber
    ): Effect.Effect<
      { readonly subscriber: Subscriber; readonly created: boolean },
      InvalidInput | StorageError,
      SecretBox
    > =>
      Effect.gen(function* () {
        const sub = yield* decodeInput(NewSubscriber)(input)
        const now = yield* Clock.currentTimeMillis
        const subscriberId = yield* newId
        const inserted = yield* sql.withTransaction(
          Effect.gen(function* () {
            const rows = yield* sql`INSERT INTO subscribers ${sql.insert({
              subscriberId,
              url: sub.url,
              secretHint: maskSecret(sub.signingSecret),
              eventFilter: JSON.stringify(sub.eventFilter),
              enabled: 1,
              seedKey: sub.url,
              createdAt: now,
              updatedAt: now
            })} ON CONFLICT (seed_key) DO NOTHING RETURNING subscriber_id`
            if (rows.length > 0) yield* insertSecret(subscriberId, sub.signingSecret, now)
            return rows.length > 0
          })
        )
        if (inserted) return { subscriber: yield* find(subscriberId).pipe(Effect.orDie), created: true }
        const seeded = yield* sql`SELECT ${select} FROM subscribers WHERE seed_key = ${sub.url}`.pipe(
          Effect.flatMap(decodeSubscribers)
        )
        const existing = seeded[0]
        if (existing === undefined) return yield* Effect.die(new Error(`subscriber seeded for ${sub.url} vanished`))
        return { subscriber: existing, created: false }
      }).pipe(storage)

    const get = (subscriberId: string): Effect.Effect<Subscriber, NotFound | InvalidInput | StorageError> =>
      decodeInput(Identifier)(subscriberId).pipe(Effect.flatMap(find), storage)

    const list = (
      options: { readonly includeDisabled?: boolean } = {}
    ): Effect.Effect<ReadonlyArray<Subscriber>, StorageError> =>
      (options.includeDisabled === false
        ? sql`SELECT ${select} FROM subscribers WHERE enabled = 1 ORDER BY created_at, subscriber_id`
        : sql`SELECT ${select} FROM subscribers ORDER BY created_at, subscriber_id`
      ).pipe(Effect.flatMap(decodeSubscribers), storage)

    /**
     * For the delivery worker only: every active secret, newest first, opened and still
     * `Redacted`. A delivery carries one signature per secret, so receivers on the old or the new
     * one verify. A secret sealed under a key the ring lacks fails the call (`SealedSecretUnreadable`).
     */
    const signingSecrets = (
      subscriberId: string
    ): Effect.Effect<
      ReadonlyArray<Redacted.Redacted<string>>,
      NotFound | InvalidInput | SealedSecretUnreadable | StorageError,
      SecretBox
    > =>
      Effect.gen(function* () {
        const box = yield* SecretBox
        const id = yield* decodeInput(Identifier)(subscriberId)
        const now = yield* Clock.currentTimeMillis
        const rows =
          yield* sql`SELECT secret_id, secret, key_id FROM subscriber_secrets WHERE subscriber_id = ${id} AND ${active(now)}
          ORDER BY created_at DESC, secret_id`.pipe(Effect.flatMap(decodeStored))
        // None at all: say whether the subscriber exists (one query on the hot path otherwise).
        if (rows.length === 0) yield* find(id)
        return yield* Effect.forEach(rows, (row) => openStored(box, row))
      }).pipe(storage)

    /**
     * Seal every secret not sealed under the current key: rows stored in plaintext before
     * secrets were sealed, and rows sealed under an older key of the ring (key rotation). For
     * start-up; idempotent, and safe with replicas starting at once (each row is rewritten only
     * if it is still what was read). On SQLite, once plaintext was found, the file is rebuilt
     * (`VACUUM`) and the WAL truncated, so the old plaintext does not linger in free pages.
     * Fails, changing nothing, when a row is sealed under a key the ring lacks.
     */
    const resealSecrets: Effect.Effect<
      { readonly sealed: number; readonly resealed: number },
      SealedSecretUnreadable | StorageError,
      SecretBox
    > = Effect.gen(function* () {
      const box = yield* SecretBox
      const counts = yield* sql.withTransaction(
        Effect.gen(function* () {
          const rows = yield* sql`SELECT secret_id, secret, key_id FROM subscriber_secrets
            WHERE key_id IS NULL OR key_id <> ${box.currentKeyId} ORDER BY secret_id`.pipe(Effect.flatMap(decodeStored))
          let sealed = 0
          let resealed = 0
          for (const row of rows) {
            const plaintext = yield* openStored(box, row)
            const value = yield* box.seal(plaintext, row.secretId)
            const updated = yield* sql`UPDATE subscriber_secrets SET secret = ${value}, key_id = ${box.currentKeyId}
              WHERE secret_id = ${row.secretId} AND secret = ${Redacted.value(row.secret)} RETURNING secret_id`
            if (updated.length === 0) continue
            if (row.keyId === null) sealed++
            else resealed++
          }
          return { sealed, resealed }
        })
      )
      if (counts.sealed > 0) {
        yield* sql.onDialectOrElse({
          pg: () => Effect.void,
          orElse: () => Effect.zipRight(sql`VACUUM`, sql`PRAGMA wal_checkpoint(TRUNCATE)`)
        })
      }
      return counts
    }).pipe(storage)

    /** The active secrets of these subscribers as hints (never the secrets), newest first per subscriber. */
    const secretHints = (
      subscriberIds: ReadonlyArray<string>
    ): Effect.Effect<ReadonlyArray<SubscriberSecret>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const ids = yield* decodeInput(SubscriberIds)(subscriberIds)
        if (ids.length === 0) return []
        const now = yield* Clock.currentTimeMillis
        return yield* sql`SELECT ${selectSecretInfo} FROM subscriber_secrets WHERE ${sql.in("subscriber_id", ids)} AND ${active(now)}
          ORDER BY subscriber_id, created_at DESC, secret_id`.pipe(Effect.flatMap(decodeSecretInfos))
      }).pipe(storage)

    const disable = (
      subscriberId: string,
      reason: string
    ): Effect.Effect<Subscriber, NotFound | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(DisableRequest)({ subscriberId, reason })
        const now = yield* Clock.currentTimeMillis
        yield* sql`UPDATE subscribers SET enabled = 0, disabled_reason = ${req.reason}, disabled_at = ${now}, updated_at = ${now}
          WHERE subscriber_id = ${req.subscriberId}`
        return yield* find(req.subscriberId)
      }).pipe(storage)

    /** Enabled again with a clean slate: the failing streak (and its warnings) is forgotten. */
    const enable = (subscriberId: string): Effect.Effect<Subscriber, NotFound | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const id = yield* decodeInput(Identifier)(subscriberId)
        const now = yield* Clock.currentTimeMillis
        yield* sql`UPDATE subscribers SET enabled = 1, disabled_reason = NULL, disabled_at = NULL, updated_at = ${now},
            failing_since = NULL, last_failure_at = NULL, failure_warning = 0
          WHERE subscriber_id = ${id}`
        return yield* find(id)
      }).pipe(storage)

    /**
     * Make `secret` the newest signing secret. Every other active secret stays valid for
     * `overlapMs` more (never longer than it already had), then is dropped; `overlapMs: 0`
     * revokes them at once (a leaked secret). At most `MaxActiveSecrets` may be active.
     */
    const rotateSecret = (
      subscriberId: string,
      secret: Redacted.Redacted<string>,
      options: { readonly overlapMs: number }
    ): Effect.Effect<Subscriber, NotFound | InvalidInput | StorageError, SecretBox> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(RotateRequest)({ subscriberId, secret, overlapMs: options.overlapMs })
        const now = yield* Clock.currentTimeMillis
        const until = now + req.overlapMs
        return yield* sql.withTransaction(
          Effect.gen(function* () {
            yield* find(req.subscriberId)
            // Lock the subscriber row (PostgreSQL) so concurrent rotations serialise.
            yield* sql`UPDATE subscribers SET updated_at = ${now} WHERE subscriber_id = ${req.subscriberId}`
            yield* sql`UPDATE subscriber_secrets SET expires_at = ${until}
              WHERE subscriber_id = ${req.subscriberId} AND (expires_at IS NULL OR expires_at > ${until})`
            yield* sql`DELETE FROM subscriber_secrets WHERE subscriber_id = ${req.subscriberId} AND expires_at <= ${now}`
            const [remaining] =
              yield* sql`SELECT COUNT(*) AS n FROM subscriber_secrets WHERE subscriber_id = ${req.subscriberId}`.pipe(
                Effect.flatMap(decodeCount)
              )
            if ((remaining?.n ?? 0) + 1 > MaxActiveSecrets) {
              return yield* new InvalidInput({
                field: "secret",
                message: `at most ${MaxActiveSecrets} secrets may be active at once: wait for an overlap to end, or rotate with no overlap`
              })
            }
            yield* insertSecret(req.subscriberId, req.secret, now)
            yield* sql`UPDATE subscribers SET secret_hint = ${maskSecret(req.secret)} WHERE subscriber_id = ${req.subscriberId}`
            return yield* find(req.subscriberId)
          })
        )
      }).pipe(storage)

    /** Drop rotated-out secrets whose overlap has ended; returns how many. */
    const purgeExpiredSecrets: Effect.Effect<number, StorageError> = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const rows =
        yield* sql`DELETE FROM subscriber_secrets WHERE expires_at IS NOT NULL AND expires_at <= ${now} RETURNING secret_id`
      return rows.length
    }).pipe(storage)

    /** A delivery attempt succeeded: the failing streak, if any, is over. */
    const recordSuccess = (subscriberId: string): Effect.Effect<void, InvalidInput | StorageError> =>
      decodeInput(Identifier)(subscriberId).pipe(
        // Conditional: a healthy subscriber costs no write.
        Effect.flatMap(
          (id) => sql`UPDATE subscribers SET failing_since = NULL, last_failure_at = NULL, failure_warning = 0
          WHERE subscriber_id = ${id} AND failing_since IS NOT NULL`
        ),
        Effect.asVoid,
        storage
      )

    /** A delivery attempt failed: starts a failing streak or extends it. Returns the subscriber as updated. */
    const recordFailure = (subscriberId: string): Effect.Effect<Subscriber, NotFound | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const id = yield* decodeInput(Identifier)(subscriberId)
        const now = yield* Clock.currentTimeMillis
        yield* sql`UPDATE subscribers SET failing_since = COALESCE(failing_since, ${now}), last_failure_at = ${now}
          WHERE subscriber_id = ${id}`
        return yield* find(id)
      }).pipe(storage)

    /** Enabled subscribers in a failing streak, longest-failing first. */
    const listFailing: Effect.Effect<ReadonlyArray<Subscriber>, StorageError> = sql`SELECT ${select} FROM subscribers
      WHERE enabled = 1 AND failing_since IS NOT NULL ORDER BY failing_since, subscriber_id`.pipe(
      Effect.flatMap(decodeSubscribers),
      storage
    )

    /**
     * Record that the warning `level` was given for the streak that began at `failingSince`.
     * True for exactly one caller (one replica logs and counts it); false when already given,
     * the streak ended or the subscriber is disabled.
     */
    const markFailureWarning = (
      request: typeof WarningRequest.Type
    ): Effect.Effect<boolean, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(WarningRequest)(request)
        const rows = yield* sql`UPDATE subscribers SET failure_warning = ${req.level}
          WHERE subscriber_id = ${req.subscriberId} AND enabled = 1 AND failing_since = ${req.failingSince} AND failure_warning < ${req.level}
          RETURNING subscriber_id`
        return rows.length > 0
      }).pipe(storage)

    /**
     * Disable a subscriber for failing, unless it recovered (or was disabled) meanwhile: only
     * while the streak that began at `failingSince` is still on. True when this call disabled it.
     */
    const disableIfStillFailing = (
      request: typeof AutoDisableRequest.Type
    ): Effect.Effect<boolean, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(AutoDisableRequest)(request)
        const now = yield* Clock.currentTimeMillis
        const rows =
          yield* sql`UPDATE subscribers SET enabled = 0, disabled_reason = ${req.reason}, disabled_at = ${now}, updated_at = ${now}
          WHERE subscriber_id = ${req.subscriberId} AND enabled = 1 AND failing_since = ${req.failingSince}
          RETURNING subscriber_id`
        return rows.length > 0
      }).pipe(storage)

    return {
      create,
      seed,
      get,
      list,
      signingSecrets,
      resealSecrets,
      secretHints,
      disable,
      enable,
      rotateSecret,
      purgeExpiredSecrets,
      recordSuccess,
      recordFailure,
      listFailing,
      markFailureWarning,
      disableIfStillFailing
    } as const
  })
}) {}
