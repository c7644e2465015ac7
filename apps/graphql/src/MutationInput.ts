/**
 * Decoding mutation arguments: graphql-js checks their GraphQL types, these schemas check what
 * HL Connect and the store need, and any problem becomes `InvalidInput` naming the field as this
 * schema spells it (`customerIp`, `parts.0.orderLineId`), before anything is stored or sent.
 */
import { InvalidRequest, parseHlId } from "@hlconnect/core"
import { Effect, ParseResult, Schema } from "effect"

/** An HL Connect id sent as an `ID`: a positive integer in decimal, kept as its canonical string. */
export const HlId = Schema.String.pipe(
  Schema.filter((raw) => parseHlId(raw) !== undefined || `expected a positive integer, got ${JSON.stringify(raw)}`)
)

/** `HlId` as the number HL Connect's requests take. */
export const HlIdNumber = Schema.transformOrFail(HlId, Schema.Int, {
  strict: true,
  decode: (raw, _, ast) => {
    const id = parseHlId(raw)
    return id === undefined ? ParseResult.fail(new ParseResult.Type(ast, raw, "expected a positive integer")) : ParseResult.succeed(id)
  },
  encode: (id) => ParseResult.succeed(String(id))
})

/** `schema`'s decoder for raw arguments; the first problem is `InvalidRequest` on its field. */
export const decodeArgs = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const decode = Schema.decodeUnknown(schema, { errors: "first", onExcessProperty: "ignore" })
  return (args: unknown): Effect.Effect<A, InvalidRequest> =>
    decode(args).pipe(
      Effect.mapError((error) => {
        const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
        const field = issue === undefined || issue.path.length === 0 ? "input" : issue.path.map(String).join(".")
        return new InvalidRequest({ field, message: `${field}: ${issue?.message ?? error.message}` })
      })
    )
}

/** Core names fields as on the wire (`customer_ip`); callers know them as in this schema (`customerIp`). */
const toSchemaField = (field: string) => field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())

/** Core's `InvalidRequest`, with the field (and the message's mention of it) in this schema's terms. */
export const inSchemaTerms = (e: InvalidRequest): InvalidRequest => {
  const field = toSchemaField(e.field)
  return new InvalidRequest({ field, message: e.message.replace(e.field, field) })
}
