/**
 * Drift between the local view of an order line and HL Connect's: what the reconciler has not
 * (yet) repaired, or cannot. Pure, so the rules are tested without a server.
 */
import { type RegisteredAs, remoteAgreesWithEnded, type RemoteView, remoteStatusOf } from "@hlconnect/fulfilment"
import type { OrderLines } from "@hlconnect/store"
import type { PurchaseStatus } from "./Answers.js"

type LineState = OrderLines.OrderLineState

export interface LineDrift {
  /** Any of the flags below. */
  readonly drifted: boolean
  /** The line is parked for an operator (`needs_attention`). */
  readonly needsAttention: boolean
  /** Locally registered (or later), but HL Connect does not know the line. */
  readonly missingRemotely: boolean
  /** HL Connect reports a status the local state does not account for. */
  readonly stateMismatch: boolean
  /** One sentence for humans, when drifted. */
  readonly description: string | null
}

export interface RemoteLineStatus {
  /** The line's status at HL Connect; `undefined` when HL Connect does not know the line. */
  readonly status: string | undefined
  /** Said of the whole order (HL Connect's 202 / 502 / 404), not of this line in particular. */
  readonly orderLevel: boolean
}

/** HL Connect's answer as the reconciler's plan reads it. */
const remoteViewOf = (outcome: PurchaseStatus): RemoteView => {
  switch (outcome._tag) {
    case "Completed":
      return { _tag: "Completed", items: outcome.items }
    case "Processing":
      return { _tag: "Processing" }
    case "Failed":
      return { _tag: "Failed", message: outcome.message }
    case "OrderNotFound":
      return { _tag: "NotFound" }
  }
}

/**
 * The line's status at HL Connect as the plan reads it (`remoteStatusOf`: a line with ensemble
 * parts has one status for all its HL Connect lines); `undefined` when HL Connect does not know it.
 */
export const remoteLineStatus = (outcome: PurchaseStatus, line: RegisteredAs): RemoteLineStatus => {
  const { status } = remoteStatusOf(remoteViewOf(outcome), line)
  return {
    status: status === "ABSENT" || status === "NOT_FOUND" ? undefined : status,
    orderLevel: outcome._tag !== "Completed"
  }
}

const ended: ReadonlyArray<LineState> = ["completed", "failed", "cancelled"]

/**
 * Remote statuses each local state is consistent with; `undefined`: not registered yet, anything
 * goes. An ended line agrees with what the reconciler's plan accepts (`remoteAgreesWithEnded`), so
 * what it leaves alone is never shown as drift; a line on its way shows the step it has not taken.
 */
const expected: { readonly [S in LineState]: ReadonlyArray<string> | undefined } = {
  paid: undefined,
  registering: undefined,
  registered: ["PROCESSING"],
  processing: ["PROCESSING"],
  cancel_requested: ["PROCESSING", "COMPLETED", "CANCELLED", "FAILED"],
  needs_attention: undefined,
  ...remoteAgreesWithEnded
}

/** The plan's name for a status HL Connect did not give: the whole order unknown, or this line not listed. */
const unknownStatus = (remote: RemoteLineStatus) => (remote.orderLevel ? "NOT_FOUND" : "ABSENT")

export const lineDrift = (state: LineState, remote: RemoteLineStatus): LineDrift => {
  const remoteStatus = remote.status
  const needsAttention = state === "needs_attention"
  // A whole-order PROCESSING says nothing about a line that has ended: another line of the order
  // (registered later, say) may still be on its way.
  const orderStillProcessing = remote.orderLevel && remoteStatus === "PROCESSING" && ended.includes(state)
  const allowed = orderStillProcessing ? undefined : expected[state]
  const agrees = allowed === undefined || allowed.includes(remoteStatus ?? unknownStatus(remote))
  const missingRemotely = !agrees && remoteStatus === undefined
  const stateMismatch = !agrees && remoteStatus !== undefined
  const description = needsAttention
    ? "the line needs an operator's attention"
    : missingRemotely
      ? `locally ${state}, but HL Connect does not know the line`
      : stateMismatch
        ? `locally ${state}, but HL Connect reports ${remoteStatus}`
        : null
  return {
    drifted: needsAttention || missingRemotely || stateMismatch,
    needsAttention,
    missingRemotely,
    stateMismatch,
    description
  }
}
