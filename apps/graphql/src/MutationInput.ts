/**
 * Mutation arguments in this schema's terms: graphql-js checks their GraphQL types, core's
 * `decodeInput` (with `invalidRequest`) checks what HL Connect and the store need, and any
 * problem becomes `InvalidInput` naming the field as this schema spells it (`customerIp`,
 * `parts.0.orderLineId`), before anything is stored or sent. Ids follow core's one rule (`HlId`).
 */
import { InvalidRequest } from "@hlconnect/core"

/** Core names fields as on the wire (`customer_ip`); callers know them as in this schema (`customerIp`). */
const toSchemaField = (field: string) => field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())

/** Core's `InvalidRequest`, with the field (and the message's mention of it) in this schema's terms. */
export const inSchemaTerms = (e: InvalidRequest): InvalidRequest => {
  const field = toSchemaField(e.field)
  return new InvalidRequest({ field, message: e.message.replace(e.field, field) })
}
