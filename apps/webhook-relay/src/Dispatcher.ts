/**
 * Drains the inbox: `order.paid` creates the order's lines (one transaction) and registers each
 * with HL Connect; `order.refunded` / `order.line_cancelled` request and send cancellation.
 * Transient failures retry with exponential backoff; permanent ones (asset unknown, token
 * expired or refused…) dead-letter the event with the reason, replayable through the admin API.
 */
import { backoff, Fulfilment, type FulfilmentError, lineOfPart, PaidOrder } from "@hlconnect/fulfilment"
import { Inbox, type Lease, OrderLines, Store, TraceContext } from "@hlconnect/store"
import { Clock, Duration, Effect, Either, Metric, Option, Redacted, type Scope } from "effect"
import { randomUUID } from "node:crypto"
import { type OrderPaid, type OrderPaidLine, parse } from "./CommerceEvents.js"
import type { Doorbell } from "./Doorbell.js"
import { source } from "./Ingest.js"
import type { RelayConfig } from "./RelayConfig.js"
import * as RelayMetrics from "./RelayMetrics.js"

export const dispatchedTotal = Metric.counter("relay_dispatch_total", {
  description: "Inbox events handled, by event type and outcome (completed, retry, dead).",
  incremental: true
})

/** What handling an event came to. */
export type EventResult =
  | { readonly _tag: "Done" }
  | { readonly _tag: "Transient"; readonly error: string; readonly at?: number }
  | { readonly _tag: "Permanent"; readonly reason: string }

const done: EventResult = { _tag: "Done" }

/** HL Connect refused our credentials: retry much later, loudly. */
const haltedDelay = Duration.minutes(5)
const maxRetryDelay = Duration.minutes(10)

/** The result for an order's lines after acting on them: the worst one wins. */
const combine = (results: ReadonlyArray<EventResult>): EventResult => {
  const transient = results.filter((v) => v._tag === "Transient")
  if (transient.length > 0) {
    const ats = transient.flatMap((v) => (v.at === undefined ? [] : [v.at]))
    return {
      _tag: "Transient",
      error: transient.map((v) => v.error).join("; "),
      ...(ats.length === 0 ? {} : { at: Math.min(...ats) })
    }
  }
  const permanent = results.filter((v) => v._tag === "Permanent")
  return permanent.length > 0 ? { _tag: "Permanent", reason: permanent.map((v) => v.reason).join("; ") } : done
}

export const make = (
  config: RelayConfig,
  options: { readonly bell: Doorbell; readonly deliveries: Doorbell; readonly owner?: string }
) =>
  Effect.gen(function* () {
    const inbox = yield* Inbox.Inbox
    const lines = yield* OrderLines.OrderLines
    const store = yield* Store.Store
    const fulfilment = yield* Fulfilment
    const owner = options.owner ?? `relay-dispatcher-${randomUUID()}`

    /**
     * Judges a line by the state it is in now (robust to races with the reconciler and other
     * workers): done in one of `settled`, permanent when parked for an operator, else not yet.
     */
    const judge = (key: OrderLines.OrderLineKey, settled: ReadonlyArray<OrderLines.OrderLineState>, retryAt?: number) =>
      Effect.map(lines.get(key), (line): EventResult => {
        if (settled.includes(line.state)) return done
        if (line.state === "needs_attention")
          return {
            _tag: "Permanent",
            reason: `line ${line.orderLineId}: ${Option.getOrElse(line.attentionReason, () => "needs attention")}`
          }
        return {
          _tag: "Transient",
          error: `line ${line.orderLineId} is still ${line.state}${Option.match(line.lastError, { onNone: () => "", onSome: (e) => `: ${e}` })}`,
          ...(retryAt === undefined ? {} : { at: retryAt })
        }
      })

    /** An `order.paid` is done with a line once HL Connect has it (the reconciler follows it from there). */
    const registeredOrEnded: ReadonlyArray<OrderLines.OrderLineState> = [
      "registered",
      "processing",
      "completed",
      "failed",
      "cancelled"
    ]
    /**
     * A refund is done with a line once it is cancelled (or failed: nothing to cancel). A line
     * another worker moved meanwhile (registered, completed…) is asked again on the retry.
     */
    const cancelledOrFailed: ReadonlyArray<OrderLines.OrderLineState> = ["cancelled", "failed"]

    /**
     * A line parked in `needs_attention` because its token expired is stuck until the shop
     * validates the purchase again; a later `order.paid` carrying a different, unexpired token
     * is that validation: the token is replaced and the line goes back to `paid` to register.
     */
    const refreshExpiredToken = (line: OrderLines.OrderLine, source: OrderPaidLine, now: number) =>
      Effect.gen(function* () {
        const expiresAt = source.token_expires_at === undefined ? undefined : source.token_expires_at * 1000
        const tokenExpired =
          Option.exists(line.tokenExpiresAt, (exp) => exp <= now) ||
          Option.exists(line.attentionReason, (r) => r.includes("validation token expired"))
        const fresh =
          Option.getOrUndefined(Option.map(line.validationToken, Redacted.value)) !== source.validation_token &&
          (expiresAt === undefined || expiresAt > now)
        if (line.state !== "needs_attention" || !tokenExpired || !fresh) return line
        const replaced = yield* lines
          .replaceValidationToken({
            orderNumber: line.orderNumber,
            orderLineId: line.orderLineId,
            expectedVersion: line.version,
            token: Redacted.make(source.validation_token),
            ...(expiresAt === undefined ? {} : { tokenExpiresAt: expiresAt }),
            nextCheckAt: now + Duration.toMillis(PaidOrder.registrationGrace)
          })
          .pipe(
            Effect.tap(() =>
              Effect.logInfo("validation token replaced; line back to paid", {
                orderNumber: line.orderNumber,
                orderLineId: line.orderLineId
              })
            ),
            // Someone else moved the line meanwhile: judge it as it now is.
            Effect.catchTags({ StaleVersion: () => lines.get(line), IllegalTransition: () => lines.get(line) })
          )
        return replaced
      })

    const paid = (data: OrderPaid) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const order = { ...data, currency: data.currency ?? config.currency }
        const created = yield* store.transaction(
          Effect.forEach(
            PaidOrder.newOrderLines(order, { nextCheckAt: now + Duration.toMillis(PaidOrder.registrationGrace) }),
            (line) => lines.create(line)
          )
        )
        const results = yield* Effect.forEach(created, ({ line, created: isNew }) =>
          Effect.gen(function* () {
            const source = data.lines.find((l) => l.order_line_id === line.orderLineId)
            const current = !isNew && source !== undefined ? yield* refreshExpiredToken(line, source, now) : line
            const outcome = yield* fulfilment.registerLine(current)
            return yield* judge(current, registeredOrEnded, outcome._tag === "RetryLater" ? outcome.at : undefined)
          })
        )
        return combine(results)
      })

    const cancel = (orderNumber: string, lineIds: ReadonlyArray<string> | undefined) =>
      Effect.gen(function* () {
        const order = yield* lines.findOrder(orderNumber)
        // The order.paid may still be on its way (senders do not guarantee order).
        if (Option.isNone(order))
          return { _tag: "Transient", error: `order ${orderNumber} is not known (yet)` } satisfies EventResult
        const targets = lineIds ?? order.value.lines.map((l) => l.orderLineId)
        const results = yield* Effect.forEach(targets, (id) =>
          Effect.gen(function* () {
            const line = order.value.lines.find((l) => l.orderLineId === id)
            if (line === undefined) {
              const owner = lineOfPart(order.value.lines, id)
              return {
                _tag: "Permanent",
                reason:
                  owner === undefined
                    ? `order ${orderNumber} has no line ${id}`
                    : `order ${orderNumber} line ${id} is an ensemble part of line ${owner.orderLineId}: a part is cancelled with its line, not alone`
              } satisfies EventResult
            }
            const requested = yield* fulfilment.requestCancel(line)
            const current = yield* lines.get(line)
            const sent = current.state === "cancel_requested" ? yield* fulfilment.cancelLine(current) : requested
            return yield* judge(line, cancelledOrFailed, sent._tag === "RetryLater" ? sent.at : undefined)
          })
        )
        return combine(results)
      })

    const handle = (event: Inbox.InboxEvent): Effect.Effect<EventResult, FulfilmentError> => {
      const decoded = parse(event.body)
      // Verified and decoded at ingest; failing now means the schema changed since.
      if (Either.isLeft(decoded))
        return Effect.succeed({ _tag: "Permanent", reason: `undecodable event: ${decoded.left.message}` })
      const e = decoded.right
      switch (e.type) {
        case "order.paid":
          return paid(e.data)
        case "order.refunded":
          return cancel(e.data.order_number, e.data.order_line_ids)
        case "order.line_cancelled":
          return cancel(e.data.order_number, e.data.order_line_ids)
      }
    }

    const retryDelay = (attempts: number) =>
      backoff(config.dispatchRetryDelay, maxRetryDelay, Math.max(attempts - 1, 0))

    const settle = (lease: Lease, event: Inbox.InboxEvent, result: EventResult) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        switch (result._tag) {
          case "Done":
            yield* inbox.complete(lease)
            yield* count(event.eventType, "completed")
            yield* Metric.increment(Metric.tagged(RelayMetrics.dispatched, "event_type", event.eventType))
            yield* Metric.update(RelayMetrics.inboxLag, Math.max(0, now - event.receivedAt) / 1000)
            return
          case "Permanent":
            yield* inbox.deadLetter(lease, { error: result.reason })
            yield* count(event.eventType, "dead")
            yield* deadInbox
            yield* Effect.logWarning("inbox event dead-lettered", {
              eventId: event.eventId,
              eventType: event.eventType,
              reason: result.reason
            })
            return
          case "Transient": {
            if (event.attempts >= config.dispatchMaxAttempts) {
              const reason = `gave up after ${event.attempts} attempts: ${result.error}`
              yield* inbox.deadLetter(lease, { error: reason })
              yield* count(event.eventType, "dead")
              yield* deadInbox
              yield* Effect.logWarning("inbox event dead-lettered", { eventId: event.eventId, reason })
              return
            }
            const at = Math.max(result.at ?? 0, now + retryDelay(event.attempts))
            yield* inbox.retryLater(lease, { error: result.error, nextAttemptAt: at })
            yield* count(event.eventType, "retry")
            yield* Metric.increment(RelayMetrics.dispatchRetries)
            return
          }
        }
      })

    const deadInbox = Metric.increment(Metric.tagged(RelayMetrics.deadLettered, "kind", "inbox"))

    const count = (eventType: string, outcome: string) =>
      Metric.increment(Metric.tagged(Metric.tagged(dispatchedTotal, "event_type", eventType), "outcome", outcome))

    const process = (lease: Lease, event: Inbox.InboxEvent) =>
      handle(event).pipe(
        Effect.catchTag("FulfilmentHalted", (halted) =>
          Effect.zipRight(
            Effect.logError("HL Connect work halted; event will be retried", {
              eventId: event.eventId,
              message: halted.message
            }),
            Effect.map(
              Clock.currentTimeMillis,
              (now): EventResult => ({
                _tag: "Transient",
                error: halted.message,
                at: now + Duration.toMillis(haltedDelay)
              })
            )
          )
        ),
        Effect.catchTags({
          NotFound: (e) => Effect.succeed<EventResult>({ _tag: "Permanent", reason: e.message }),
          InvalidInput: (e) => Effect.succeed<EventResult>({ _tag: "Permanent", reason: `${e.field}: ${e.message}` }),
          StorageError: (e) => Effect.succeed<EventResult>({ _tag: "Transient", error: `storage: ${e.message}` })
        }),
        Effect.flatMap((result) => settle(lease, event, result)),
        Effect.zipRight(options.deliveries.ring),
        Effect.catchAllCause((cause) =>
          Effect.logError(
            "inbox event handling failed; the lease will expire and it will be retried",
            { eventId: event.eventId },
            cause
          )
        ),
        Effect.annotateLogs({ eventId: event.eventId, eventType: event.eventType }),
        // The child of the ingest that stored the event: one event, its handling, in one trace.
        TraceContext.continueFrom("Relay.dispatch", [event.traceContext], { "hlconnect.event_type": event.eventType })
      )

    /** One pass: claim due events and handle them, per order in arrival order, orders concurrently. */
    const drainOnce = Effect.gen(function* () {
      const claimed = yield* inbox.claim({ owner, limit: 32, leaseMs: Duration.toMillis(config.dispatchLease), source })
      const byOrder = new Map<string, Array<Inbox.ClaimedInboxEvent>>()
      for (const c of claimed) {
        const decoded = parse(c.event.body)
        const key = Either.isRight(decoded) ? decoded.right.data.order_number : c.event.eventId
        const group = byOrder.get(key)
        if (group === undefined) byOrder.set(key, [c])
        else group.push(c)
      }
      yield* Effect.forEach(
        byOrder.values(),
        (group) => Effect.forEach(group, (c) => process(c.lease, c.event), { discard: true }),
        {
          concurrency: 8,
          discard: true
        }
      )
      return claimed.length
    })

    const run: Effect.Effect<never, never, Scope.Scope> = drainOnce.pipe(
      Effect.catchAllCause((cause) => Effect.as(Effect.logError("inbox claim failed", cause), 0)),
      Effect.flatMap((n) => (n === 0 ? options.bell.wait(config.pollInterval) : Effect.void)),
      Effect.forever
    )

    return { run, drainOnce } as const
  })
