import type { OrderItem } from "@hlconnect/core"
import { OrderLines } from "@hlconnect/store"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Option } from "effect"
import { planLine, type RemoteView } from "../src/Plan.js"
import { defaultPolicy } from "../src/Policy.js"

const now = 1_800_000_000_000
const line = (
  state: OrderLines.OrderLineState,
  extra: Partial<ConstructorParameters<typeof OrderLines.OrderLine>[0]> = {}
) =>
  OrderLines.OrderLine.make({
    orderNumber: "12345",
    orderLineId: "1",
    asset: "4000",
    quantity: 1,
    unitPriceMinor: 399,
    totalPriceMinor: 399,
    currency: "USD",
    customerEmail: "a@b.example",
    customerName: Option.some("John Customer"),
    validationToken: Option.none(),
    tokenExpiresAt: Option.none(),
    state,
    attentionReason: Option.none(),
    attempts: 0,
    nextCheckAt: Option.none(),
    lastError: Option.none(),
    remoteSnapshot: Option.none(),
    parts: Option.none(),
    version: 1,
    createdAt: now - 60_000,
    updatedAt: now - 60_000,
    ...extra
  })

const items = (...statuses: ReadonlyArray<string>): RemoteView => ({
  _tag: "Completed",
  items: statuses.map((status, i): OrderItem => ({ order_id: 12345, order_line_id: i + 1, status }))
})

const plan = (state: OrderLines.OrderLineState, remote: RemoteView, extra = {}) =>
  planLine(line(state, extra), remote, now, defaultPolicy)

describe("planLine", () => {
  it("registers paid and registering lines whatever HL Connect says", () => {
    assert.strictEqual(plan("paid", { _tag: "NotAsked" }).action._tag, "Register")
    assert.strictEqual(plan("registering", { _tag: "NotFound" }).action._tag, "Register")
  })

  it("cancels cancel_requested lines", () => {
    assert.strictEqual(plan("cancel_requested", items("COMPLETED")).action._tag, "Cancel")
  })

  it("follows HL Connect for registered and processing lines", () => {
    assert.deepStrictEqual(plan("registered", items("COMPLETED")).action, { _tag: "Transition", to: "completed" })
    assert.deepStrictEqual(plan("processing", items("FAILED")).action, {
      _tag: "Transition",
      to: "failed",
      reason: "fulfilment failed"
    })
    assert.deepStrictEqual(plan("processing", { _tag: "Failed", message: "DAM error" }).action, {
      _tag: "Transition",
      to: "failed",
      reason: "DAM error"
    })
    assert.deepStrictEqual(plan("registered", { _tag: "Processing" }).action, { _tag: "Transition", to: "processing" })
    const wait = plan("processing", { _tag: "Processing" }).action
    assert.strictEqual(wait._tag, "Wait")
  })

  it("polls with a backoff that grows with attempts and is capped", () => {
    const delay = (attempts: number) => {
      const action = plan("processing", { _tag: "Processing" }, { attempts }).action
      return action._tag === "Wait" ? action.nextCheckAt - now : -1
    }
    assert.strictEqual(delay(0), Duration.toMillis(defaultPolicy.firstCheckDelay))
    assert.isAbove(delay(3), delay(1))
    assert.strictEqual(delay(40), Duration.toMillis(defaultPolicy.maxCheckDelay))
  })

  it("gives up waiting past the deadline", () => {
    const late = plan(
      "processing",
      { _tag: "Processing" },
      { createdAt: now - Duration.toMillis(defaultPolicy.fulfilmentDeadline) - 1 }
    )
    assert.strictEqual(late.action._tag, "Transition")
    if (late.action._tag === "Transition") {
      assert.strictEqual(late.action.to, "needs_attention")
      assert.include(late.action.reason ?? "", "not fulfilled within")
    }
  })

  it("waits, recording the error, when HL Connect cannot be read", () => {
    const action = plan("processing", { _tag: "Unreadable", error: "HL Connect unavailable" }).action
    assert.strictEqual(action._tag, "Wait")
    if (action._tag === "Wait") {
      assert.strictEqual(action.error, "HL Connect unavailable")
      assert.strictEqual(action.nextCheckAt - now, Duration.toMillis(defaultPolicy.retryDelay))
    }
  })

  it("flags drift that no normal transition explains, and records what was seen", () => {
    const cases: ReadonlyArray<readonly [OrderLines.OrderLineState, RemoteView, string]> = [
      ["completed", { _tag: "NotFound" }, "NOT_FOUND"],
      ["failed", items("COMPLETED"), "COMPLETED"],
      ["processing", items("ON_HOLD"), "ON_HOLD"],
      ["processing", items("CANCELLED"), "CANCELLED"],
      ["registered", { _tag: "NotFound" }, "NOT_FOUND"],
      ["cancelled", items("COMPLETED"), "COMPLETED"]
    ]
    for (const [state, remote, observed] of cases) {
      const decision = plan(state, remote)
      assert.strictEqual(decision.action._tag, "Transition", `${state} vs ${observed}`)
      if (decision.action._tag === "Transition") assert.strictEqual(decision.action.to, "needs_attention")
      assert.strictEqual(decision.drift?.observed, observed)
    }
  })

  it("changes nothing when terminal lines agree with HL Connect, or for lines awaiting an operator", () => {
    assert.strictEqual(plan("completed", items("COMPLETED")).action._tag, "Nothing")
    assert.strictEqual(plan("failed", { _tag: "Failed", message: undefined }).action._tag, "Nothing")
    assert.strictEqual(plan("cancelled", items("CANCELLED")).action._tag, "Nothing")
    assert.strictEqual(
      plan("cancelled", { _tag: "NotFound" }).action._tag,
      "Nothing",
      "cancelled before it was ever registered"
    )
    assert.strictEqual(plan("needs_attention", items("COMPLETED")).action._tag, "Nothing")
  })

  it("judges a line with ensemble parts by all its HL Connect lines: one status when they agree, drift when they ended differently", () => {
    const quartet = {
      parts: Option.some([
        { asset: "4004", orderLineId: "2" },
        { asset: "4007", orderLineId: "3" }
      ])
    }
    const judged = (state: OrderLines.OrderLineState, ...statuses: ReadonlyArray<string>) => {
      const decision = plan(state, items(...statuses), quartet)
      return [
        decision.action._tag === "Transition" ? `→ ${decision.action.to}` : decision.action._tag,
        decision.drift?.observed ?? null
      ]
    }
    assert.deepStrictEqual(judged("processing", "COMPLETED", "COMPLETED", "COMPLETED"), ["→ completed", null])
    assert.deepStrictEqual(judged("processing", "COMPLETED", "PROCESSING", "COMPLETED"), ["Wait", null])
    assert.deepStrictEqual(judged("processing", "FAILED", "FAILED", "FAILED"), ["→ failed", null])
    assert.deepStrictEqual(judged("processing", "COMPLETED", "COMPLETED", "FAILED"), [
      "→ needs_attention",
      "COMPLETED+FAILED"
    ])
    assert.deepStrictEqual(judged("registered", "CANCELLED", "COMPLETED", "COMPLETED"), [
      "→ needs_attention",
      "CANCELLED+COMPLETED"
    ])
    // A part HL Connect does not list: it does not know the whole line.
    assert.deepStrictEqual(judged("processing", "COMPLETED", "COMPLETED"), ["→ needs_attention", "ABSENT"])
    assert.deepStrictEqual(judged("completed", "COMPLETED", "COMPLETED", "COMPLETED"), ["Nothing", null])
    assert.deepStrictEqual(judged("completed", "COMPLETED", "CANCELLED", "COMPLETED"), [
      "→ needs_attention",
      "CANCELLED+COMPLETED"
    ])
    assert.deepStrictEqual(judged("cancelled", "CANCELLED", "CANCELLED", "CANCELLED"), ["Nothing", null])
    assert.deepStrictEqual(judged("cancelled", "CANCELLED", "COMPLETED", "CANCELLED"), [
      "→ needs_attention",
      "CANCELLED+COMPLETED"
    ])
  })

  it("takes a cancelled line HL Connect does not list, in an order it knows by other lines, as cancelled before it was registered", () => {
    // Line 1 was registered and completed; line 2 was cancelled while still paid.
    const decision = plan("cancelled", items("COMPLETED"), { orderLineId: "2" })
    assert.strictEqual(decision.action._tag, "Nothing")
    assert.isUndefined(decision.drift)
    // A completed or failed line missing from the order's items is still drift.
    for (const state of ["completed", "failed"] as const) {
      const missing = plan(state, items("COMPLETED"), { orderLineId: "2" })
      assert.strictEqual(missing.action._tag, "Transition", state)
      assert.deepStrictEqual(missing.drift, { expected: state.toUpperCase(), observed: "ABSENT" }, state)
    }
  })

  it("takes HL Connect's order-level PROCESSING as no word on lines that have ended (another line may be on its way)", () => {
    for (const state of ["completed", "failed", "cancelled"] as const) {
      const decision = plan(state, { _tag: "Processing" })
      assert.strictEqual(decision.action._tag, "Nothing", state)
      assert.isUndefined(decision.drift, state)
    }
    // An item-level status still counts: the order was answered in full.
    assert.strictEqual(plan("completed", items("PROCESSING")).drift?.observed, "PROCESSING")
  })

  it("keeps the remote item with the decision, to snapshot it", () => {
    assert.strictEqual(plan("processing", items("COMPLETED")).remote?.status, "COMPLETED")
  })
})
