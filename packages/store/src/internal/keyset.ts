/**
 * Keyset paging, the store's one way to page a list: a page is fetched with `LIMIT limit + 1`,
 * and its cursor is the sort key of its last item as base64url JSON. Callers pass a cursor back
 * unchanged; anything else is `InvalidInput` on `cursor`. Each list names only its key's schema.
 */
import { Effect, Option, Schema } from "effect"
import { InvalidInput } from "../Errors.js"

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  /** Pass back as `cursor` to get the next page; `None` on the last page. */
  readonly nextCursor: Option.Option<string>
}

export interface Keyset<K> {
  /** The key to resume after, or `undefined` for the first page. */
  readonly decode: (cursor: string | undefined) => Effect.Effect<K | undefined, InvalidInput>
  readonly encode: (key: K) => string
  /** The first `limit` rows, and a cursor after the last of them when there was one more. */
  readonly page: <A>(rows: ReadonlyArray<A>, limit: number, keyOf: (row: A) => K) => Page<A>
}

export const keyset = <K, I>(key: Schema.Schema<K, I, never>): Keyset<K> => {
  const Cursor = Schema.compose(Schema.StringFromBase64Url, Schema.parseJson(key))
  const encode = Schema.encodeSync(Cursor)
  const decodeCursor = Schema.decodeUnknown(Cursor)
  return {
    encode,
    decode: (cursor) =>
      cursor === undefined
        ? Effect.succeed(undefined)
        : decodeCursor(cursor).pipe(
            Effect.mapError(
              () =>
                new InvalidInput({ field: "cursor", message: "malformed cursor (pass back a next_cursor unchanged)" })
            )
          ),
    page: (rows, limit, keyOf) => {
      const items = rows.slice(0, limit)
      const last = items[items.length - 1]
      return {
        items,
        nextCursor: rows.length > limit && last !== undefined ? Option.some(encode(keyOf(last))) : Option.none()
      }
    }
  }
}

/** Lists sorted by (epoch millis, id): inbox events, deliveries. */
export const timeId = keyset(Schema.Tuple(Schema.Int, Schema.String))
