/**
 * The commerce platform's side: every `order.paid` (and `order.refunded`) sent to the relay(s)
 * until acknowledged (202 accepted or 200 duplicate), re-signed on each attempt, as a Standard
 * Webhooks sender retries.
 * Connection errors and 503s are retried; any other answer is a rejection and recorded.
 */
import { Clock, Duration, Effect } from "effect"
import * as Http from "./Http.js"
import type { Purchase, Signer } from "./Purchases.js"

export interface Rejection {
  readonly webhookId: string
  readonly status: number
  readonly body: string
}

export interface SendReport {
  readonly acked: ReadonlySet<string>
  readonly attempts: number
  /** Attempts that got no answer or a 503 (relay down or restarting). */
  readonly retried: number
  readonly rejected: ReadonlyArray<Rejection>
}

export interface SendOptions {
  readonly purchases: ReadonlyArray<Purchase>
  /** Relay base URLs; attempts go round-robin (a load balancer). */
  readonly relays: ReadonlyArray<string>
  readonly sign: Signer
  readonly concurrency: number
  /** Spread the first attempts over this long (orders keep flowing while processes die). */
  readonly spreadOver?: Duration.Duration
  /** Give up on an event after this long. */
  readonly giveUpAfter: Duration.Duration
}

export const sendAll = (options: SendOptions): Effect.Effect<SendReport> =>
  Effect.gen(function* () {
    const acked = new Set<string>()
    const rejected: Array<Rejection> = []
    let attempts = 0
    let retried = 0
    const t0 = yield* Clock.currentTimeMillis
    const gap =
      options.spreadOver === undefined
        ? 0
        : Duration.toMillis(options.spreadOver) / Math.max(1, options.purchases.length)
    const giveUp = Duration.toMillis(options.giveUpAfter)

    const sendOne = (p: Purchase, index: number) =>
      Effect.gen(function* () {
        const due = t0 + index * gap
        const now = yield* Clock.currentTimeMillis
        if (due > now) yield* Effect.sleep(Duration.millis(due - now))
        const started = yield* Clock.currentTimeMillis
        for (let attempt = 0; ; attempt++) {
          const relay = options.relays[(index + attempt) % options.relays.length] ?? ""
          attempts++
          const res = yield* Http.request({
            method: "POST",
            url: `${relay}/webhooks/commerce`,
            headers: options.sign(p.webhookId, p.body),
            body: p.body,
            timeout: Duration.seconds(10)
          }).pipe(Effect.option)
          if (res._tag === "Some" && (res.value.status === 202 || res.value.status === 200)) {
            acked.add(p.webhookId)
            return
          }
          if (res._tag === "Some" && res.value.status !== 503) {
            rejected.push({ webhookId: p.webhookId, status: res.value.status, body: res.value.body.slice(0, 300) })
            return
          }
          retried++
          if ((yield* Clock.currentTimeMillis) - started > giveUp) return
          yield* Effect.sleep(Duration.millis(Math.min(2000, 100 * 2 ** Math.min(attempt, 4))))
        }
      })

    yield* Effect.forEach(options.purchases, sendOne, { concurrency: options.concurrency, discard: true })
    return { acked, attempts, retried, rejected }
  })

/**
 * The payments and the refunds side by side, as a shop sends them: a refund may come before its
 * `order.paid`, or find its lines anywhere between paid (not yet registered) and completed.
 */
export const sendWithRefunds = (options: SendOptions & { readonly refunds: ReadonlyArray<Purchase> }) =>
  Effect.map(
    Effect.all([sendAll(options), sendAll({ ...options, purchases: options.refunds })], { concurrency: 2 }),
    ([sent, refundsSent]) => ({ sent, refunds: { events: options.refunds, sent: refundsSent } })
  )
