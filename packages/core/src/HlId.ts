/**
 * The one rule for an HL Connect id (order number, order line id, asset id) that reaches us as
 * text or JSON — GraphQL's `ID`s, the relay's events, ids the store kept as text: ASCII decimal
 * digits, no sign, no leading zero, a safe integer. Anything else (`""`, `"007"`, `"1' OR
 * '1'='1"`, Arabic-Indic digits, `1.5`) cannot name anything at HL Connect. The parsers, the
 * words for a refusal and the schemas built on them live here, so every package says the same.
 * Small and free of the client, so a worker thread can load it alone (`@hlconnect/core/HlId`).
 */
import { ParseResult, Schema } from "effect"

/** An id written as text, or undefined when it is none. */
export const parseHlId = (text: string): number | undefined =>
  /^[1-9][0-9]{0,15}$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : undefined

/** An id as JSON carries it: a number, or its text (`parseHlId`). */
export const hlIdOf = (value: string | number): number | undefined =>
  typeof value === "number" ? (Number.isSafeInteger(value) && value >= 1 ? value : undefined) : parseHlId(value)

/** Why `value` is no id, in the words every package uses. */
export const notAnHlId = (value: unknown): string => `${JSON.stringify(value)} is not an HL Connect id (an integer ≥ 1)`

/** `text` as an id, or why it is none naming it as `what` (`order number "007" is not an HL Connect id …`). */
export const hlIdOrReason = (what: string, text: string): number | string =>
  parseHlId(text) ?? `${what} ${notAnHlId(text)}`

/** An id as text (e.g. a GraphQL `ID`), kept as its text. */
export const HlIdText = Schema.String.pipe(Schema.filter((text) => parseHlId(text) !== undefined || notAnHlId(text)))

/** An id as text, decoded to the number HL Connect's requests take. */
export const HlIdNumberFromText = Schema.transformOrFail(Schema.String, Schema.Int, {
  strict: true,
  decode: (text, _, ast) => {
    const id = parseHlId(text)
    return id === undefined
      ? ParseResult.fail(new ParseResult.Type(ast, text, notAnHlId(text)))
      : ParseResult.succeed(id)
  },
  encode: (id) => ParseResult.succeed(String(id))
})

/** An id as JSON carries it (a number, or its text with spaces around ignored), decoded to its decimal text. */
export const HlIdTextFromJson = Schema.transformOrFail(Schema.Union(Schema.String, Schema.Number), Schema.String, {
  strict: true,
  decode: (value, _, ast) => {
    const id = hlIdOf(typeof value === "string" ? value.trim() : value)
    return id === undefined
      ? ParseResult.fail(new ParseResult.Type(ast, value, notAnHlId(value)))
      : ParseResult.succeed(String(id))
  },
  encode: (text) => ParseResult.succeed(text)
})
