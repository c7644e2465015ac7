/**
 * The order-line state machine: the states a vendor order line goes through and the moves
 * between them. Pure data; the repository (`OrderLines.ts`) enforces it inside its updates.
 */
import { Schema } from "effect"

export const OrderLineState = Schema.Literal(
  "paid",
  "registering",
  "registered",
  "processing",
  "completed",
  "failed",
  "cancel_requested",
  "cancelled",
  "needs_attention"
)
export type OrderLineState = typeof OrderLineState.Type

export const terminalStates: ReadonlyArray<OrderLineState> = ["completed", "failed", "cancelled"]

/**
 * Allowed moves. Terminal states only lead to `needs_attention` — so a remote
 * contradiction is flagged rather than silently rewriting history — except that
 * a completed line may be refunded (`cancel_requested`), as HL Connect lets a
 * vendor cancel a fulfilled line. `needs_attention` is where an operator or the
 * reconciler resolves a line to whatever state is true.
 */
export const allowedTransitions: { readonly [S in OrderLineState]: ReadonlyArray<OrderLineState> } = {
  paid: ["registering", "cancel_requested", "failed", "needs_attention"],
  registering: ["registered", "failed", "cancel_requested", "needs_attention"],
  registered: ["processing", "completed", "failed", "cancel_requested", "needs_attention"],
  processing: ["completed", "failed", "cancel_requested", "needs_attention"],
  cancel_requested: ["cancelled", "needs_attention"],
  cancelled: ["needs_attention"],
  completed: ["cancel_requested", "needs_attention"],
  failed: ["needs_attention"],
  // An operator (or the reconciler) may resolve a flagged line to any other state.
  needs_attention: OrderLineState.literals.filter((state) => state !== "needs_attention")
}

export const canTransition = (from: OrderLineState, to: OrderLineState): boolean =>
  allowedTransitions[from].includes(to)

/** Only a line not yet sent to HL Connect may take a new token. */
export const tokenReplaceableStates: ReadonlyArray<OrderLineState> = ["paid", "needs_attention"]
