/**
 * Orders with a line in a given state, a page at a time, over the store's line pages. Lines
 * come in (order number, line id) order, so an order's lines are contiguous: an order is
 * complete once the next order's first line is seen, and a cursor that points after its last
 * line resumes exactly after it.
 */
import { type InvalidInput, OrderLines, type StorageError } from "@hlconnect/store"
import { Effect, Option, Schema } from "effect"
import type { Connection } from "./schema/Connections.js"

/**
 * The store's cursor format (a base64url JSON `[orderNumber, orderLineId]`): the store pages
 * lines, and this builds a cursor right after an order's last line, which it does not offer.
 */
const StoreCursor = Schema.compose(Schema.StringFromBase64Url, Schema.parseJson(Schema.Tuple(Schema.String, Schema.String)))
const cursorAfter = Schema.encodeSync(StoreCursor)

/** Lines read from the store per round trip. */
const LinesPerRead = 200

export const listOrders = (request: {
  readonly state: OrderLines.OrderLineState
  readonly first: number
  readonly after: string | undefined
}): Effect.Effect<Connection<string>, InvalidInput | StorageError, OrderLines.OrderLines> =>
  Effect.gen(function* () {
    const orderLines = yield* OrderLines.OrderLines
    // Order number → its last line id in this state, in store order.
    const seen = new Map<string, string>()
    let cursor = request.after
    let more = true
    while (more && seen.size <= request.first) {
      const page = yield* orderLines.listByState(
        cursor === undefined
          ? { state: request.state, limit: LinesPerRead }
          : { state: request.state, limit: LinesPerRead, cursor }
      )
      for (const line of page.items) {
        if (!seen.has(line.orderNumber) && seen.size > request.first) break
        seen.set(line.orderNumber, line.orderLineId)
      }
      more = Option.isSome(page.nextCursor)
      cursor = Option.getOrUndefined(page.nextCursor)
    }
    const orders = [...seen].slice(0, request.first)
    return {
      edges: orders.map(([orderNumber, lastLineId]) => ({ cursor: cursorAfter([orderNumber, lastLineId]), node: orderNumber })),
      hasNextPage: seen.size > request.first
    }
  })
