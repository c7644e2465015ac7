/** Seeds orders at the sandbox (through the real client) and in the store (through its API). */
import { HlConnect } from "@hlconnect/core"
import type { LineStatus } from "@hlconnect/sandbox"
import { OrderLines } from "@hlconnect/store"
import { Effect } from "effect"
import type { TestServer } from "./server.js"

export interface SeedLine {
  readonly lineId: number
  readonly assetId?: number
  /** Local state to walk the line to (from `paid`). */
  readonly state?: OrderLines.OrderLineState
  /** Ensemble parts registered with the line (each its own HL Connect line). */
  readonly parts?: ReadonlyArray<{ readonly asset: string; readonly orderLineId: string }>
}

/** Validates and registers each line at the sandbox, as a shop would. */
export const registerAtSandbox = (server: TestServer, orderNumber: number, lines: ReadonlyArray<SeedLine>) =>
  server.run(
    Effect.gen(function* () {
      const hl = yield* HlConnect
      for (const line of lines) {
        const { token } = yield* hl.validatePurchase({
          asset_id: line.assetId ?? 4000,
          customer_ip: "192.0.2.10",
          quantity: 1
        })
        yield* hl.registerPurchase({
          token,
          order_number: orderNumber,
          order_line_id: line.lineId,
          unit_price: 3.99,
          line_item_price: 3.99,
          customer: "Clara Schumann",
          ...(line.parts === undefined
            ? {}
            : { parts: line.parts.map((p) => ({ asset_id: Number(p.asset), order_line_id: Number(p.orderLineId) })) })
        })
      }
    })
  )

const paths: { readonly [S in OrderLines.OrderLineState]: ReadonlyArray<OrderLines.OrderLineState> } = {
  paid: [],
  registering: ["registering"],
  registered: ["registering", "registered"],
  processing: ["registering", "registered", "processing"],
  completed: ["registering", "registered", "completed"],
  failed: ["registering", "failed"],
  cancel_requested: ["cancel_requested"],
  cancelled: ["cancel_requested", "cancelled"],
  needs_attention: ["needs_attention"]
}

/** Creates the order's lines in the store and walks each to its state. */
export const storeOrder = (server: TestServer, orderNumber: string, lines: ReadonlyArray<SeedLine>) =>
  server.run(
    Effect.gen(function* () {
      const orderLines = yield* OrderLines.OrderLines
      for (const line of lines) {
        const created = yield* orderLines.create({
          orderNumber,
          orderLineId: String(line.lineId),
          asset: String(line.assetId ?? 4000),
          quantity: 1,
          unitPriceMinor: 399,
          totalPriceMinor: 399,
          currency: "EUR",
          customerEmail: "clara@example.com",
          customerName: "Clara Schumann",
          ...(line.parts === undefined ? {} : { parts: line.parts })
        })
        let version = created.line.version
        for (const to of paths[line.state ?? "paid"]) {
          const moved = yield* orderLines.transition({
            orderNumber,
            orderLineId: String(line.lineId),
            expectedVersion: version,
            to,
            ...(to === "needs_attention" ? { reason: "remote refund after completion" } : {})
          })
          version = moved.version
        }
      }
    })
  )

export const settle = (server: TestServer, orderNumber: number, lineId: number, status: LineStatus) =>
  server.sandbox.run(server.sandbox.state.settleLine(orderNumber, lineId, status))

export const upstreamRequests = async (server: TestServer): Promise<Readonly<Record<string, number>>> =>
  (await server.sandbox.run(server.sandbox.state.stats)).requests

export const resetStats = (server: TestServer) => server.sandbox.run(server.sandbox.state.resetFaultsAndStats)

/**
 * A `RegisterPurchaseInput` for line 1 (one asset 4000 at 3.99 EUR, for Clara Schumann); name the
 * order and the token in `fields`, and anything else to change.
 */
export const purchaseInput = (fields: Record<string, unknown>) => ({
  orderLineId: "1",
  assetId: 4000,
  quantity: 1,
  unitPrice: 3.99,
  lineItemPrice: 3.99,
  currency: "EUR",
  customer: "Clara Schumann",
  customerEmail: "clara@example.com",
  ...fields
})
