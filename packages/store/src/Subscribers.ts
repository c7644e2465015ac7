import { SqlClient } from "@effect/sql/SqlClient"
import { Clock, Effect, Option, Redacted, Schema } from "effect"
import { type InvalidInput, NotFound, type StorageError } from "./Errors.js"
import { boundedText, DbFlag, DbJson, DbMillis, decodeInput, decodeRows, Identifier, newId, storage } from "./internal/codec.js"

/** An event filter entry: an exact type (`order.paid`), a prefix (`order.*`) or everything (`*`). */
export const EventPattern = Schema.String.pipe(
  Schema.pattern(/^(\*|[A-Za-z0-9][A-Za-z0-9._:-]*(\.\*)?)$/, { message: () => "must be like order.paid, order.* or *" }),
  Schema.maxLength(128)
)

export const matchesFilter = (filter: ReadonlyArray<string>, eventType: string): boolean =>
  filter.some((p) => p === "*" || p === eventType || (p.endsWith(".*") && eventType.startsWith(p.slice(0, -1))))

/** A subscriber as every read API returns it: the signing secret only as a masked hint. */
export class Subscriber extends Schema.Class<Subscriber>("Subscriber")({
  subscriberId: Schema.String,
  url: Schema.String,
  /** e.g. `whsec_…abcd`: enough to recognise a secret, useless to forge a signature. */
  secretHint: Schema.String,
  eventFilter: Schema.compose(DbJson, Schema.Array(Schema.String)),
  enabled: DbFlag,
  disabledReason: Schema.OptionFromNullOr(Schema.String),
  disabledAt: Schema.OptionFromNullOr(DbMillis),
  createdAt: DbMillis,
  updatedAt: DbMillis
}) {}

const Url = boundedText(2048).pipe(
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

const DisableRequest = Schema.Struct({ subscriberId: Identifier, reason: boundedText(1000).pipe(Schema.minLength(1)) })

/** Keep a recognisable prefix (`whsec_`) and the last four characters. */
export const maskSecret = (secret: Redacted.Redacted<string>): string => {
  const value = Redacted.value(secret)
  const prefix = /^[a-z]+_/i.exec(value)?.[0] ?? ""
  return value.length >= 16 ? `${prefix}…${value.slice(-4)}` : `${prefix}…`
}

/** Columns every read API may select: never `signing_secret`. */
const publicColumns =
  "subscriber_id, url, secret_hint, event_filter, enabled, disabled_reason, disabled_at, created_at, updated_at"

export class Subscribers extends Effect.Service<Subscribers>()("@hlconnect/store/Subscribers", {
  accessors: true,
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient
    const decodeSubscribers = decodeRows(Subscriber, "subscriber")
    const select = sql.literal(publicColumns)

    const find = (id: string) =>
      sql`SELECT ${select} FROM subscribers WHERE subscriber_id = ${id}`.pipe(
        Effect.flatMap(decodeSubscribers),
        Effect.flatMap((rows) =>
          rows[0] === undefined ? Effect.fail(new NotFound({ entity: "subscriber", id })) : Effect.succeed(rows[0])
        )
      )

    const create = (input: NewSubscriber): Effect.Effect<Subscriber, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const sub = yield* decodeInput(NewSubscriber)(input)
        const now = yield* Clock.currentTimeMillis
        const subscriberId = yield* newId
        yield* sql`INSERT INTO subscribers ${sql.insert({
          subscriberId,
          url: sub.url,
          signingSecret: Redacted.value(sub.signingSecret),
          secretHint: maskSecret(sub.signingSecret),
          eventFilter: JSON.stringify(sub.eventFilter),
          enabled: 1,
          createdAt: now,
          updatedAt: now
        })}`
        return yield* find(subscriberId).pipe(Effect.orDie)
      }).pipe(storage)

    const get = (subscriberId: string): Effect.Effect<Subscriber, NotFound | InvalidInput | StorageError> =>
      decodeInput(Identifier)(subscriberId).pipe(Effect.flatMap(find), storage)

    const list = (options: { readonly includeDisabled?: boolean } = {}): Effect.Effect<ReadonlyArray<Subscriber>, StorageError> =>
      (options.includeDisabled === false
        ? sql`SELECT ${select} FROM subscribers WHERE enabled = 1 ORDER BY created_at, subscriber_id`
        : sql`SELECT ${select} FROM subscribers ORDER BY created_at, subscriber_id`
      ).pipe(Effect.flatMap(decodeSubscribers), storage)

    /** For the delivery worker only: the secret to sign with, still `Redacted`. */
    const signingSecret = (subscriberId: string): Effect.Effect<Redacted.Redacted<string>, NotFound | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const id = yield* decodeInput(Identifier)(subscriberId)
        const rows = yield* sql`SELECT signing_secret FROM subscribers WHERE subscriber_id = ${id}`.pipe(
          Effect.flatMap(decodeRows(Schema.Struct({ signingSecret: Schema.Redacted(Schema.String) }), "subscriber secret"))
        )
        return yield* Option.match(Option.fromNullable(rows[0]), {
          onNone: () => Effect.fail(new NotFound({ entity: "subscriber", id })),
          onSome: (r) => Effect.succeed(r.signingSecret)
        })
      }).pipe(storage)

    const disable = (subscriberId: string, reason: string): Effect.Effect<Subscriber, NotFound | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(DisableRequest)({ subscriberId, reason })
        const now = yield* Clock.currentTimeMillis
        yield* sql`UPDATE subscribers SET enabled = 0, disabled_reason = ${req.reason}, disabled_at = ${now}, updated_at = ${now}
          WHERE subscriber_id = ${req.subscriberId}`
        return yield* find(req.subscriberId)
      }).pipe(storage)

    const enable = (subscriberId: string): Effect.Effect<Subscriber, NotFound | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const id = yield* decodeInput(Identifier)(subscriberId)
        const now = yield* Clock.currentTimeMillis
        yield* sql`UPDATE subscribers SET enabled = 1, disabled_reason = NULL, disabled_at = NULL, updated_at = ${now}
          WHERE subscriber_id = ${id}`
        return yield* find(id)
      }).pipe(storage)

    const rotateSecret = (
      subscriberId: string,
      secret: Redacted.Redacted<string>
    ): Effect.Effect<Subscriber, NotFound | InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const id = yield* decodeInput(Identifier)(subscriberId)
        const s = yield* decodeInput(NewSubscriber.fields.signingSecret)(secret)
        const now = yield* Clock.currentTimeMillis
        yield* sql`UPDATE subscribers SET signing_secret = ${Redacted.value(s)}, secret_hint = ${maskSecret(s)}, updated_at = ${now}
          WHERE subscriber_id = ${id}`
        return yield* find(id)
      }).pipe(storage)

    return { create, get, list, signingSecret, disable, enable, rotateSecret } as const
  })
}) {}
