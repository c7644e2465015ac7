/**
 * The guarantees, checked from every side after a flow of purchases: what the sender got
 * acknowledged is in the inbox; every line reached its right final state in the store; the sandbox
 * registered each (order, line) exactly once; each line published one final event; every event
 * reached the subscriber with a valid signature. Counted as lost and duplicated.
 */
import type { OrderLines } from "@hlconnect/store"
import { HlConnect } from "@hlconnect/core"
import { Clock, Duration, Effect, Redacted } from "effect"
import type { Upstream } from "./Apps.js"
import type { DecodeFailure, HttpFailure, StoreFailure, UnexpectedResponse } from "./Errors.js"
import * as Ledger from "./Ledger.js"
import type { PlannedOrder, Purchase } from "./Purchases.js"
import * as RelayAdmin from "./RelayAdmin.js"
import * as SandboxAdmin from "./SandboxAdmin.js"
import type { SendReport } from "./Sender.js"
import type * as Subscriber from "./Subscriber.js"

export interface Verdict {
  readonly lost: number
  readonly duplicated: number
  /** What is wrong, one line each (empty: the guarantees hold). */
  readonly problems: ReadonlyArray<string>
  /** Figures worth printing. */
  readonly facts: ReadonlyArray<string>
}

export interface Sources {
  readonly orders: ReadonlyArray<PlannedOrder>
  readonly purchases: ReadonlyArray<Purchase>
  readonly sent: SendReport
  /** The `order.refunded` sent for the refunded orders, and what the sender got for them. */
  readonly refunds?: { readonly events: ReadonlyArray<Purchase>; readonly sent: SendReport }
  readonly admin: RelayAdmin.Admin
  /** The sandbox's address and token (its full stats need the token). */
  readonly sandbox: Upstream
  readonly subscriber: Subscriber.Subscriber
}

const eventTypeFor = { completed: "order.completed", failed: "order.failed", cancelled: "order.cancelled" } as const

const examples = (items: ReadonlyArray<string>, n = 5) =>
  items.length <= n ? items.join(", ") : `${items.slice(0, n).join(", ")} … (+${items.length - n})`

/**
 * Waits until every planned line is in a final state, the subscriber has seen one event per line
 * and the relay holds no inbox event or delivery pending (or `timeout` passes: the verdict then
 * tells what is missing). The inbox matters on its own: when the reconciler finishes a line first,
 * the event that paid for it is still waiting for its retry, which finds the line final and
 * completes it.
 */
export const settle = (
  sources: Sources,
  timeout: Duration.Duration
): Effect.Effect<boolean, never, OrderLines.OrderLines> =>
  Effect.gen(function* () {
    const expectedLines = sources.orders.reduce((n, o) => n + o.lines.length, 0)
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(timeout)
    for (;;) {
      // A failed read while the apps write (a busy database) is reported and read again next time.
      const states = yield* Ledger.lineStates(sources.orders).pipe(
        Effect.tapError((e) => Effect.logWarning(`settle: ${e.message}; reading again`)),
        Effect.orElseSucceed(() => new Map<string, Ledger.LineView>())
      )
      const done = [...states.values()].filter((l) => Ledger.terminal.includes(l.state)).length
      // Each line that reaches a final state (or needs attention) publishes one event.
      const delivered = (yield* sources.subscriber.snapshot).received.size
      // Inbox events and deliveries still pending (a line completed, then refunded, has two events).
      // Unknown (the relay is restarting) counts as pending: read again next time.
      const pending = yield* Effect.zipWith(
        RelayAdmin.inbox(sources.admin, "pending"),
        RelayAdmin.deliveries(sources.admin, "pending"),
        (events, deliveries) => events.length + deliveries.length
      ).pipe(
        Effect.tapError((e) => Effect.logWarning(`settle: the relay could not be read (${e.message}); reading again`)),
        Effect.orElseSucceed(() => Number.POSITIVE_INFINITY)
      )
      if (done >= expectedLines && delivered >= expectedLines && pending === 0) return true
      if ((yield* Clock.currentTimeMillis) > deadline) {
        yield* Effect.logWarning(
          `settle: gave up with ${done}/${expectedLines} lines final, ${delivered} events delivered, ${pending} inbox events and deliveries pending`
        )
        return false
      }
      yield* Effect.sleep(Duration.seconds(1))
    }
  })

/**
 * Reads every source and counts what was lost or duplicated, in order lines: a line is lost when
 * anything on its way is missing (its event not acknowledged or not stored, dead-lettered, not
 * registered, not in its final state, no final event, the event not delivered); duplicated when
 * registered twice or given two final events. Every finding is also described in `problems`.
 */
export const verify = (
  sources: Sources
): Effect.Effect<Verdict, StoreFailure | HttpFailure | UnexpectedResponse | DecodeFailure, OrderLines.OrderLines> =>
  Effect.gen(function* () {
    const { orders, purchases, sent, admin, subscriber } = sources
    const problems: Array<string> = []
    const facts: Array<string> = []
    const lost = new Set<string>()
    const duplicated = new Set<string>()
    const linesOf = new Map(
      orders.map((o) => [o.orderNumber, o.lines.map((l) => Ledger.key(o.orderNumber, l.orderLineId))])
    )
    const orderOf = new Map(purchases.map((p) => [p.webhookId, p.order.orderNumber]))
    /** HL line (a line or one of its parts) → the order line it belongs to. */
    const lineOfHlLine = new Map(
      orders.flatMap((o) =>
        o.lines.flatMap((l) =>
          [l.orderLineId, ...l.parts.map((p) => p.orderLineId)].map(
            (id) => [Ledger.key(o.orderNumber, id), Ledger.key(o.orderNumber, l.orderLineId)] as const
          )
        )
      )
    )
    const report = (into: Set<string>, keys: ReadonlyArray<string>, what: string) => {
      if (keys.length === 0) return
      for (const k of keys) into.add(k)
      problems.push(what)
    }
    const ofEvents = (ids: ReadonlyArray<string>) => ids.flatMap((id) => linesOf.get(orderOf.get(id) ?? "") ?? [])

    // 1. The sender's side: acknowledged events are in the inbox, none dead.
    const unacked = purchases.filter((p) => !sent.acked.has(p.webhookId)).map((p) => p.webhookId)
    report(lost, ofEvents(unacked), `${unacked.length} order.paid never acknowledged: ${examples(unacked)}`)
    if (sent.rejected.length > 0) {
      problems.push(
        `${sent.rejected.length} valid order.paid rejected: ${examples(
          sent.rejected.map((r) => `${r.status} ${r.body}`),
          2
        )}`
      )
    }
    const refunds = sources.refunds
    if (refunds !== undefined) {
      const refundOf = new Map(refunds.events.map((r) => [r.webhookId, r.order.orderNumber]))
      const unackedRefunds = refunds.events.filter((r) => !refunds.sent.acked.has(r.webhookId)).map((r) => r.webhookId)
      report(
        lost,
        unackedRefunds.flatMap((id) => linesOf.get(refundOf.get(id) ?? "") ?? []),
        `${unackedRefunds.length} order.refunded never acknowledged: ${examples(unackedRefunds)}`
      )
      if (refunds.sent.rejected.length > 0) {
        problems.push(
          `${refunds.sent.rejected.length} valid order.refunded rejected: ${examples(
            refunds.sent.rejected.map((r) => `${r.status} ${r.body}`),
            2
          )}`
        )
      }
    }
    const inbox = yield* RelayAdmin.inboxAll(admin)
    const inboxIds = new Map(inbox.map((e) => [e.id, e]))
    const notStored = [...sent.acked].filter((id) => !inboxIds.has(id))
    report(
      lost,
      ofEvents(notStored),
      `${notStored.length} acknowledged events missing from the inbox: ${examples(notStored)}`
    )
    const dead = inbox.filter((e) => e.state === "dead")
    report(
      lost,
      ofEvents(dead.map((e) => e.id)),
      `${dead.length} inbox events dead-lettered: ${examples(
        dead.map((e) => `${e.id} (${e.last_error ?? ""})`),
        2
      )}`
    )
    const pending = inbox.filter((e) => e.state === "pending")
    if (pending.length > 0) problems.push(`${pending.length} inbox events still pending`)

    // 2. The store: every line in its right final state.
    const states = yield* Ledger.lineStates(orders)
    const missing: Array<string> = []
    const wrong: Array<string> = []
    for (const o of orders) {
      for (const l of o.lines) {
        const k = Ledger.key(o.orderNumber, l.orderLineId)
        const s = states.get(k)
        if (s === undefined) missing.push(k)
        else if (s.state !== l.expected) wrong.push(k)
      }
    }
    const describeState = (k: string) => {
      const s = states.get(k)
      return `${k} ${s?.state ?? "?"}${s?.reason === undefined ? "" : ` (${s.reason})`}`
    }
    report(lost, missing, `${missing.length} lines not in the store: ${examples(missing)}`)
    report(lost, wrong, `${wrong.length} lines in the wrong final state: ${examples(wrong.map(describeState), 2)}`)

    // 3. The sandbox: each (order, line) registered exactly once, nothing else registered.
    const stats = yield* SandboxAdmin.stats(sources.sandbox)
    const hlLines = [...lineOfHlLine.keys()]
    // A refunded line may have been cancelled before it was ever registered.
    const refundedOrders = new Set(orders.filter((o) => o.refunded).map((o) => o.orderNumber))
    const unregistered = hlLines.filter(
      (k) => (stats.registrations[k] ?? 0) === 0 && !refundedOrders.has(k.split(":")[0] ?? "")
    )
    report(
      lost,
      unregistered.map((k) => lineOfHlLine.get(k) ?? k),
      `${unregistered.length} HL lines never registered at HL Connect: ${examples(unregistered)}`
    )
    const twice = hlLines.filter((k) => (stats.registrations[k] ?? 0) > 1)
    report(
      duplicated,
      twice.map((k) => lineOfHlLine.get(k) ?? k),
      `${twice.length} HL lines registered more than once: ${examples(twice.map((k) => `${k}×${stats.registrations[k] ?? 0}`))}`
    )
    const stray = Object.keys(stats.registrations).filter(
      (k) => linesOf.has(k.split(":")[0] ?? "") && !lineOfHlLine.has(k)
    )
    report(duplicated, stray, `${stray.length} unexpected registrations: ${examples(stray)}`)
    // 3b. HL Connect's side of the refunds: every line it holds for a refunded order is CANCELLED
    // (none at all when the refund came before the registration). Answers are data here.
    const refunded = orders.filter((o) => o.refunded)
    const notCancelled = (yield* Effect.forEach(
      refunded,
      (o) =>
        Effect.flatMap(HlConnect, (hl) => Effect.either(hl.purchaseInfo({ order_id: Number(o.orderNumber) }))).pipe(
          Effect.map((answer): ReadonlyArray<readonly [PlannedOrder, string]> => {
            if (answer._tag === "Left")
              return answer.left._tag === "OrderNotFound" ? [] : [[o, `${answer.left._tag}: ${answer.left.message}`]]
            const outcome = answer.right
            if (outcome._tag !== "Completed") return [[o, outcome._tag]]
            const open = outcome.items.filter((i) => i.status !== "CANCELLED")
            return open.length === 0 ? [] : [[o, open.map((i) => `line ${i.order_line_id} ${i.status}`).join(", ")]]
          })
        ),
      { concurrency: 8 }
    ).pipe(
      Effect.provide(
        HlConnect.Default({
          baseUrl: sources.sandbox.url,
          accessToken: Redacted.make(sources.sandbox.token),
          expectedEnvironment: "sandbox"
        })
      )
    )).flat()
    report(
      lost,
      notCancelled.flatMap(([o]) => linesOf.get(o.orderNumber) ?? []),
      `${notCancelled.length} refunded orders not cancelled at HL Connect: ${examples(
        notCancelled.map(([o, what]) => `${o.orderNumber} (${what})`),
        3
      )}`
    )
    if (refunded.length > 0) {
      const refundedLines = refunded.reduce((n, o) => n + o.lines.length, 0)
      const neverRegistered = refunded
        .flatMap((o) => o.lines.map((l) => Ledger.key(o.orderNumber, l.orderLineId)))
        .filter((k) => (stats.registrations[k] ?? 0) === 0).length
      facts.push(
        `refunds: ${refunded.length} orders (${refundedLines} lines) refunded after payment; ${neverRegistered} lines cancelled before HL Connect registered them, the rest cancelled there (${stats.requests.cancelOrderLine ?? 0} cancelOrderLine calls)`
      )
    }
    const conflicts = stats.responses["registerPurchase 409"] ?? 0
    facts.push(
      `sandbox: ${hlLines.length - unregistered.length}/${hlLines.length} HL lines registered (${twice.length} more than once), ${stats.requests.registerPurchase ?? 0} registerPurchase calls (${conflicts} answered 409: sent again), ${stats.requests.purchaseInfo ?? 0} purchaseInfo`
    )

    // 4. The outbox: one final event per line.
    const events = yield* Effect.forEach(
      orders,
      (o) => Effect.map(RelayAdmin.orderEvents(admin, o.orderNumber), (items) => [o, items] as const),
      {
        concurrency: 16
      }
    )
    const noEvent: Array<string> = []
    const extraEvents: Array<string> = []
    const attention: Array<string> = []
    const allEvents: Array<readonly [string, RelayAdmin.OrderEvent]> = []
    for (const [o, items] of events) {
      for (const e of items) allEvents.push([Ledger.key(o.orderNumber, e.data.line?.order_line_id ?? "?"), e])
      for (const l of o.lines) {
        const k = Ledger.key(o.orderNumber, l.orderLineId)
        const forLine = items.filter((e) => e.data.line?.order_line_id === String(l.orderLineId))
        const finals = forLine.filter((e) => e.type === eventTypeFor[l.expected])
        if (finals.length === 0) noEvent.push(k)
        if (finals.length > 1) extraEvents.push(k)
        if (forLine.some((e) => e.type === "order.needs_attention")) attention.push(k)
      }
    }
    report(lost, noEvent, `${noEvent.length} lines without their final event: ${examples(noEvent)}`)
    report(
      duplicated,
      extraEvents,
      `${extraEvents.length} lines with more than one final event: ${examples(extraEvents)}`
    )
    if (attention.length > 0) problems.push(`${attention.length} order.needs_attention events: ${examples(attention)}`)

    // 5. The subscriber: every event delivered, signatures valid.
    const seen = yield* subscriber.snapshot
    const undelivered = allEvents.filter(([, e]) => !seen.received.has(e.id))
    report(
      lost,
      undelivered.map(([k]) => k),
      `${undelivered.length} events never delivered to the subscriber: ${examples(
        undelivered.map(([, e]) => `${e.type} ${e.id}`),
        3
      )}`
    )
    const deadDeliveries = yield* RelayAdmin.deliveries(admin, "dead")
    if (deadDeliveries.length > 0) {
      problems.push(
        `${deadDeliveries.length} deliveries dead-lettered: ${examples(
          deadDeliveries.map((d) => d.last_error ?? d.id),
          2
        )}`
      )
    }
    if (seen.badSignatures > 0) problems.push(`${seen.badSignatures} deliveries with a signature that did not verify`)
    if (seen.malformed > 0) problems.push(`${seen.malformed} deliveries that were not outbound events`)
    const redelivered = [...seen.received.values()].filter((r) => r.deliveries > 1).length
    facts.push(
      `events: ${allEvents.length} in the outbox, ${seen.received.size} delivered and verified (${redelivered} redelivered, ${seen.injectedFailures} answered 500 on purpose)`
    )
    return { lost: lost.size, duplicated: duplicated.size, problems, facts } satisfies Verdict
  })
