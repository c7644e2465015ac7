/**
 * The store's shared codecs: how values of either engine decode (integers, millis, flags, JSON),
 * how caller input and rows are checked, and how driver failures become `StorageError`.
 */
import { SqlError } from "@effect/sql/SqlError"
// The module alone, not the package: the inbox writer's worker thread loads this file too.
import { decodeInput as decodeByCoreRule } from "@hlconnect/core/Input"
import { Effect, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { InvalidInput, StorageError } from "../Errors.js"

/**
 * Integers read back from either engine. `pg` returns BIGINT/COUNT as strings,
 * SQLite returns numbers, so rows accept both and decode to a number.
 */
export const DbInt: Schema.Schema<number, number | string> = Schema.Union(
  Schema.Int,
  Schema.compose(Schema.NumberFromString, Schema.Int)
)

/** Epoch milliseconds, stored as BIGINT (pg) / INTEGER (SQLite). */
export const DbMillis = DbInt

/** Booleans are stored as INTEGER 0/1 on both engines so rows decode the same way. */
export const DbFlag = Schema.transform(DbInt, Schema.Boolean, {
  strict: true,
  decode: (n) => n !== 0,
  encode: (b) => (b ? 1 : 0)
})

/** JSON kept as TEXT on both engines (portable; the store never queries inside it). */
export const DbJson = Schema.parseJson()

/** Opaque identifiers from vendors and callers: printable, no whitespace, bounded. */
export const Identifier = Schema.String.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(128, { message: () => "must be at most 128 characters" }),
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:#/@-]*$/, {
    message: () => "must start with a letter or digit and contain only letters, digits and . _ : # / @ -"
  })
)

export const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
export const PositiveInt = Schema.Int.pipe(Schema.positive())

/** UTF-8 size of a string, for payload limits. */
export const byteLength = (s: string): number => Buffer.byteLength(s, "utf8")

export const boundedText = (maxBytes: number) =>
  Schema.String.pipe(Schema.filter((s) => byteLength(s) <= maxBytes || `must be at most ${maxBytes} bytes (UTF-8)`))

/** Decode caller input by core's one rule (`decodeInput`): its first problem is `InvalidInput` naming the field. */
export const decodeInput = <A, I>(
  schema: Schema.Schema<A, I, never>
): ((input: unknown) => Effect.Effect<A, InvalidInput>) =>
  decodeByCoreRule(schema, (problem) => new InvalidInput(problem))

/**
 * Decode database rows; a row that does not match the schema is a storage fault, not bad input.
 * The parser is built when this is called: call it once per schema (a module constant), not
 * per query — `Schema.Array(schema)` and its parser are not free.
 */
export const decodeRows = <A, I>(schema: Schema.Schema<A, I, never>, what: string) => {
  const decode = Schema.decodeUnknown(Schema.Array(schema))
  return (rows: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<A>, StorageError> =>
    decode(rows).pipe(
      Effect.mapError((cause) => new StorageError({ message: `Undecodable ${what} row: ${cause.message}`, cause }))
    )
}

/** `decodeRows` for one row; same advice. */
export const decodeRow = <A, I>(schema: Schema.Schema<A, I, never>, what: string) => {
  const decode = Schema.decodeUnknown(schema)
  return (row: unknown): Effect.Effect<A, StorageError> =>
    decode(row).pipe(
      Effect.mapError((cause) => new StorageError({ message: `Undecodable ${what} row: ${cause.message}`, cause }))
    )
}

export const encodeJson = (value: unknown, field: string): Effect.Effect<string, InvalidInput> =>
  Effect.try({
    try: () => JSON.stringify(value) ?? "null",
    catch: () => new InvalidInput({ field, message: "must be JSON-serialisable" })
  })

/** Map driver failures to the domain's `StorageError`, leaving every other error untouched. */
export const storage = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, Extract<E, SqlError>> | StorageError, R> =>
  Effect.catchIf(
    self,
    (e): e is Extract<E, SqlError> => e instanceof SqlError,
    (e) => Effect.fail(new StorageError({ message: e.message, cause: e.cause ?? e }))
  )

export const newId: Effect.Effect<string> = Effect.sync(() => randomUUID())
