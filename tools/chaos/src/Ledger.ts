/**
 * The store as the apps left it, read through `@hlconnect/store` (the same SQLite file or
 * PostgreSQL schema the processes use): each planned line's state.
 */
import { OrderLines, Store } from "@hlconnect/store"
import { Effect, Layer, Redacted } from "effect"
import { StoreFailure } from "./Errors.js"
import type { PlannedOrder } from "./Purchases.js"

export type StoreAccess =
  | { readonly _tag: "sqlite"; readonly filename: string }
  | { readonly _tag: "pg"; readonly url: string; readonly schema: string }

/** The store's services on the scenario's database (migrations are already applied: a no-op). */
export const layer = (access: StoreAccess) =>
  (access._tag === "sqlite"
    ? Store.layerSqlite({ filename: access.filename })
    : Store.layerPg({ url: Redacted.make(access.url), schema: access.schema, maxConnections: 4 })
  ).pipe(Layer.mapError((e) => new StoreFailure({ message: `opening the store: ${e.message}` })))

export interface LineView {
  readonly state: string
  readonly reason: string | undefined
}

export const key = (orderNumber: string, orderLineId: string | number): string => `${orderNumber}:${orderLineId}`

/** `order:line` → state, for every stored line of the planned orders. */
export const lineStates = (orders: ReadonlyArray<PlannedOrder>) =>
  Effect.gen(function* () {
    const lines = yield* OrderLines.OrderLines
    const out = new Map<string, LineView>()
    for (let i = 0; i < orders.length; i += 200) {
      const found = yield* lines.findOrders(orders.slice(i, i + 200).map((o) => o.orderNumber))
      for (const order of found.values()) {
        for (const line of order.lines) {
          out.set(key(line.orderNumber, line.orderLineId), {
            state: line.state,
            reason: line.attentionReason._tag === "Some" ? line.attentionReason.value : undefined
          })
        }
      }
    }
    return out
  }).pipe(Effect.mapError((e) => new StoreFailure({ message: `reading order lines: ${e._tag}: ${e.message}` })))

export const terminal: ReadonlyArray<string> = ["completed", "failed", "cancelled", "needs_attention"]

/** How many order lines the store holds, in every state. */
export const countLines = Effect.gen(function* () {
  const lines = yield* OrderLines.OrderLines
  let total = 0
  for (const state of OrderLines.OrderLineState.literals) {
    let cursor: string | undefined
    do {
      const page: OrderLines.Page<OrderLines.OrderLine> = yield* lines.listByState({
        state,
        limit: 500,
        ...(cursor === undefined ? {} : { cursor })
      })
      total += page.items.length
      cursor = page.nextCursor._tag === "Some" ? page.nextCursor.value : undefined
    } while (cursor !== undefined)
  }
  return total
}).pipe(Effect.mapError((e) => new StoreFailure({ message: `counting order lines: ${e._tag}: ${e.message}` })))
