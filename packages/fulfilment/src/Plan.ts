/**
 * The reconciler's judgement, as a pure function: given an order's local lines and HL Connect's
 * view of it, what should happen to each line. Level-triggered: it looks only at the state now,
 * never at what happened before, so running it twice changes nothing the second time.
 */
import type { OrderItem } from "@hlconnect/core"
import type { OrderLines } from "@hlconnect/store"
import { Duration, Option } from "effect"
import { backoff, type FulfilmentPolicy } from "./Policy.js"

/** What HL Connect says about the order (one `purchaseInfo` per order covers every line). */
export type RemoteView =
  | { readonly _tag: "Completed"; readonly items: ReadonlyArray<OrderItem> }
  | { readonly _tag: "Processing" }
  | { readonly _tag: "Failed"; readonly message: string | undefined }
  | { readonly _tag: "NotFound" }
  /** HL Connect could not be read this time (unavailable, unexpected answer). */
  | { readonly _tag: "Unreadable"; readonly error: string }
  /** No line needed HL Connect's view, so it was not asked. */
  | { readonly _tag: "NotAsked" }

export type Action =
  | { readonly _tag: "Register" }
  | { readonly _tag: "Cancel" }
  | { readonly _tag: "Transition"; readonly to: OrderLines.OrderLineState; readonly reason?: string }
  /** Stay put; look again at `nextCheckAt`. */
  | { readonly _tag: "Wait"; readonly nextCheckAt: number; readonly error?: string }
  | { readonly _tag: "Nothing" }

export interface Drift {
  readonly expected: string
  readonly observed: string
}

export interface Decision {
  readonly line: OrderLines.OrderLine
  readonly action: Action
  /** Set when local and remote disagree in a way no normal transition explains. */
  readonly drift?: Drift
  /** The remote item for this line, if HL Connect listed it. */
  readonly remote?: OrderItem
}

/** Whether the order's remote view is needed to decide anything (paid lines alone are not). */
export const needsRemote = (lines: ReadonlyArray<OrderLines.OrderLine>): boolean =>
  lines.some((line) => line.state !== "paid" && line.state !== "registering" && line.state !== "needs_attention")

/** What of a line says which HL Connect order lines it was registered as. */
export type RegisteredAs = Pick<OrderLines.OrderLine, "orderLineId" | "parts">

/** The HL Connect order lines a line was registered as: its own id, then each ensemble part's. */
export const hlLineIdsOf = (line: RegisteredAs): ReadonlyArray<string> => [
  line.orderLineId,
  ...Option.getOrElse(line.parts, () => []).map((part) => part.orderLineId)
]

/**
 * The line among `lines` that `orderLineId` is an ensemble part of, if any: a part has no line of
 * its own here and is cancelled with its line, not alone.
 */
export const lineOfPart = <L extends RegisteredAs>(lines: ReadonlyArray<L>, orderLineId: string): L | undefined =>
  lines.find((line) => Option.exists(line.parts, (parts) => parts.some((part) => part.orderLineId === orderLineId)))

/**
 * One status for HL Connect lines that make up one local line: theirs when they agree; `ABSENT`
 * when any is unknown; `PROCESSING` while any is on its way; else the ended statuses they are in,
 * sorted and joined by `+` (`COMPLETED+FAILED`): they ended differently.
 */
const combinedStatus = (statuses: ReadonlyArray<string>): string => {
  const distinct = [...new Set(statuses)].sort()
  if (distinct.length === 1) return distinct[0] ?? "ABSENT"
  if (distinct.includes("ABSENT")) return "ABSENT"
  if (distinct.includes("PROCESSING")) return "PROCESSING"
  return distinct.join("+")
}

/** Whether a combined status says the HL Connect lines of one local line ended differently. */
const endedDifferently = (status: string) => status.includes("+")

/**
 * The line's status in HL Connect's view: its item's status, combined with its parts' items'
 * (`combinedStatus`), or the whole order's answer in upper case. `item` is the line's own item.
 */
export const remoteStatusOf = (remote: RemoteView, line: RegisteredAs): { status: string; item?: OrderItem } => {
  switch (remote._tag) {
    case "Completed": {
      const itemOf = (id: string) => remote.items.find((i) => String(i.order_line_id) === id)
      const item = itemOf(line.orderLineId)
      const status = combinedStatus(
        hlLineIdsOf(line).map((id) => {
          const found = itemOf(id)
          return found === undefined ? "ABSENT" : (found.status ?? "UNKNOWN")
        })
      )
      return item === undefined ? { status } : { status, item }
    }
    case "Processing":
      return { status: "PROCESSING" }
    case "Failed":
      return { status: "FAILED" }
    case "NotFound":
      return { status: "NOT_FOUND" }
    case "Unreadable":
    case "NotAsked":
      return { status: "UNREADABLE" }
  }
}

/** A line's states that are its end. */
export type EndedState = "completed" | "failed" | "cancelled"

/**
 * The remote statuses an ended line agrees with: any other is drift. A cancelled line may be unknown
 * to HL Connect, because a line still `paid` is cancelled here without it: the order unknown as a
 * whole (`NOT_FOUND`), or known by its other, registered lines (`ABSENT`). Nothing is delivered
 * either way.
 */
export const remoteAgreesWithEnded: { readonly [S in EndedState]: ReadonlyArray<string> } = {
  completed: ["COMPLETED"],
  failed: ["FAILED"],
  cancelled: ["CANCELLED", "NOT_FOUND", "ABSENT"]
}

const attention = (reason: string, drift?: Drift): Pick<Decision, "action" | "drift"> =>
  drift === undefined
    ? { action: { _tag: "Transition", to: "needs_attention", reason } }
    : { action: { _tag: "Transition", to: "needs_attention", reason }, drift }

export const planLine = (
  line: OrderLines.OrderLine,
  remote: RemoteView,
  now: number,
  policy: FulfilmentPolicy
): Decision => {
  const { status, item } = remoteStatusOf(remote, line)
  const decide = (d: Pick<Decision, "action" | "drift">): Decision => ({
    line,
    ...d,
    ...(item === undefined ? {} : { remote: item })
  })
  const wait = (error?: string): Decision =>
    decide({
      action: {
        _tag: "Wait",
        nextCheckAt:
          now +
          backoff(
            error === undefined ? policy.firstCheckDelay : policy.retryDelay,
            policy.maxCheckDelay,
            line.attempts
          ),
        ...(error === undefined ? {} : { error })
      }
    })
  const pastDeadline = now - line.createdAt > Duration.toMillis(policy.fulfilmentDeadline)
  // HL Connect's 202 is about the whole order: another of its lines (registered later, say) may
  // still be on its way. It says nothing about a line that has already ended, so it is no drift.
  const orderStillProcessing = remote._tag === "Processing"

  switch (line.state) {
    case "paid":
    case "registering":
      return decide({ action: { _tag: "Register" } })
    case "cancel_requested":
      return decide({ action: { _tag: "Cancel" } })
    case "registered":
    case "processing": {
      // Some parts completed and some failed (or were cancelled): neither end is true of the line.
      if (endedDifferently(status)) {
        return decide(
          attention(`the line's parts ended differently at HL Connect (${status})`, {
            expected: line.state,
            observed: status
          })
        )
      }
      switch (status) {
        case "COMPLETED":
          return decide({ action: { _tag: "Transition", to: "completed" } })
        case "FAILED":
          return decide({
            action: {
              _tag: "Transition",
              to: "failed",
              reason: remote._tag === "Failed" ? (remote.message ?? "fulfilment failed") : "fulfilment failed"
            }
          })
        case "PROCESSING":
          if (pastDeadline) {
            return decide(attention(`not fulfilled within ${Duration.format(policy.fulfilmentDeadline)}`))
          }
          return line.state === "registered" ? decide({ action: { _tag: "Transition", to: "processing" } }) : wait()
        case "UNREADABLE":
          return wait(remote._tag === "Unreadable" ? remote.error : "HL Connect was not asked")
        case "CANCELLED":
          return decide(
            attention("HL Connect cancelled the line without a local request", {
              expected: line.state,
              observed: status
            })
          )
        case "NOT_FOUND":
        case "ABSENT":
          return decide(
            attention("HL Connect does not know this registered line", { expected: line.state, observed: status })
          )
        default:
          return decide(
            attention(`HL Connect reports an unknown status ${status}`, { expected: line.state, observed: status })
          )
      }
    }
    case "completed":
    case "failed":
    case "cancelled":
      return remoteAgreesWithEnded[line.state].includes(status) || status === "UNREADABLE" || orderStillProcessing
        ? decide({ action: { _tag: "Nothing" } })
        : decide(
            attention(`${line.state} locally, but HL Connect says ${status}`, {
              expected: line.state.toUpperCase(),
              observed: status
            })
          )
    case "needs_attention":
      return decide({ action: { _tag: "Nothing" } })
  }
}

export const planOrder = (
  lines: ReadonlyArray<OrderLines.OrderLine>,
  remote: RemoteView,
  now: number,
  policy: FulfilmentPolicy
): ReadonlyArray<Decision> => lines.map((line) => planLine(line, remote, now, policy))
