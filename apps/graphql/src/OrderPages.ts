/**
 * Orders with a line in a given state, a page at a time: the store pages orders (not lines), and
 * each order carries the cursor that resumes right after it.
 */
import { type InvalidInput, OrderLines, type StorageError } from "@hlconnect/store"
import { Effect, Option } from "effect"
import type { Connection } from "./schema/Connections.js"

export const listOrders = (request: {
  readonly state: OrderLines.OrderLineState
  readonly first: number
  readonly after: string | undefined
}): Effect.Effect<Connection<string>, InvalidInput | StorageError, OrderLines.OrderLines> =>
  Effect.flatMap(OrderLines.OrderLines, (orderLines) =>
    Effect.map(
      orderLines.listOrdersByState(
        request.after === undefined
          ? { state: request.state, limit: request.first }
          : { state: request.state, limit: request.first, cursor: request.after }
      ),
      (page) => ({
        edges: page.items.map((item) => ({ cursor: item.cursor, node: item.orderNumber })),
        hasNextPage: Option.isSome(page.nextCursor)
      })
    )
  )
