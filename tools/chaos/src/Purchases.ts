/**
 * The purchases a scenario makes: a seeded plan of orders (one to three lines; ordinary titles,
 * a choral title bought by ten, an ensemble score with four parts, and the asset whose fulfilment
 * always fails), each line validated at the sandbox for a real token, then a signed `order.paid`;
 * a share of the orders is refunded after (`order.refunded`), whatever state its lines reached.
 */
import { HlConnect } from "@hlconnect/core"
import { Effect, Redacted } from "effect"
import { createHmac, randomBytes } from "node:crypto"
import { SetupFailed } from "./Errors.js"
import type * as Random from "./Random.js"

export type FinalState = "completed" | "failed" | "cancelled"

export interface PlannedPart {
  readonly asset: number
  readonly orderLineId: number
}

export interface PlannedLine {
  readonly orderLineId: number
  readonly asset: number
  readonly quantity: number
  readonly unitCents: number
  readonly parts: ReadonlyArray<PlannedPart>
  readonly expected: FinalState
}

export interface PlannedOrder {
  readonly orderNumber: string
  readonly lines: ReadonlyArray<PlannedLine>
  /** Refunded after its `order.paid` was acknowledged: every line ends cancelled. */
  readonly refunded: boolean
}

export interface Purchase {
  readonly order: PlannedOrder
  readonly webhookId: string
  readonly body: string
  /** The validation tokens in the body (credentials: the secret scan looks for them). */
  readonly tokens: ReadonlyArray<string>
}

/** Sandbox catalog (packages/sandbox README). */
const FailingAsset = 4999
const ChoralAsset = 4001
const EnsembleScore = 4003
const EnsembleParts = [4004, 4005, 4006, 4007] as const

const planLine = (random: Random.Random, index: number): PlannedLine => {
  const orderLineId = index + 1
  const r = random.next()
  const line = (
    asset: number,
    quantity: number,
    unitCents: number,
    expected: FinalState = "completed",
    parts: ReadonlyArray<PlannedPart> = []
  ) => ({
    orderLineId,
    asset,
    quantity,
    unitCents,
    parts,
    expected
  })
  if (r < 0.05) return line(FailingAsset, 1, 199, "failed")
  if (r < 0.1) return line(ChoralAsset, 10, 150)
  if (r < 0.15) {
    return line(
      EnsembleScore,
      1,
      1299,
      "completed",
      EnsembleParts.map((asset, j) => ({ asset, orderLineId: orderLineId * 100 + j + 1 }))
    )
  }
  if (r < 0.55) return line(4000, random.int(1, 3), 399)
  return line(5000 + random.int(0, 199), random.int(1, 2), random.int(250, 999))
}

/**
 * `count` orders numbered from `base`: 60 % one line, 25 % two, 15 % three; `refundRate` of those
 * whose lines all complete are refunded (an order with a failing line is not: whether its refund
 * or its failure comes first is a race, so its end could not be known in advance).
 */
export const plan = (count: number, random: Random.Random, base: number, refundRate = 0): ReadonlyArray<PlannedOrder> =>
  Array.from({ length: count }, (_, i) => {
    const r = random.next()
    const lines = Array.from({ length: r < 0.6 ? 1 : r < 0.85 ? 2 : 3 }, (_, j) => planLine(random, j))
    const refunded =
      refundRate > 0 && random.next() < refundRate && lines.every((line) => line.expected === "completed")
    return {
      orderNumber: String(base + i),
      lines: refunded ? lines.map((line) => ({ ...line, expected: "cancelled" as const })) : lines,
      refunded
    }
  })

/** A random order-number base, so runs never share numbers. */
export const orderBase = (random: Random.Random): number => 10_000_000 + random.int(0, 80_000) * 1000

/** Every HL Connect order line the sandbox should register for the plan (lines and parts): `order:line`. */
export const expectedRegistrations = (orders: ReadonlyArray<PlannedOrder>): ReadonlyArray<string> =>
  orders.flatMap((o) =>
    o.lines.flatMap((l) => [l.orderLineId, ...l.parts.map((p) => p.orderLineId)].map((id) => `${o.orderNumber}:${id}`))
  )

export const lineCount = (orders: ReadonlyArray<PlannedOrder>): number => orders.reduce((n, o) => n + o.lines.length, 0)

const price = (cents: number): string => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`

/** Validates every line at the sandbox and builds each order's `order.paid` body. */
export const validate = (
  orders: ReadonlyArray<PlannedOrder>,
  sandbox: { readonly url: string; readonly token: string },
  label: string
): Effect.Effect<ReadonlyArray<Purchase>, SetupFailed> =>
  Effect.gen(function* () {
    const hl = yield* HlConnect
    return yield* Effect.forEach(
      orders,
      (order, i) =>
        Effect.gen(function* () {
          const tokens = yield* Effect.forEach(order.lines, (line) =>
            hl
              .validatePurchase({
                asset_id: line.asset,
                customer_ip: `192.0.2.${(i % 250) + 1}`,
                quantity: line.quantity
              })
              .pipe(
                Effect.mapError(
                  (e) =>
                    new SetupFailed({
                      message: `validating asset ${line.asset} at the sandbox: ${e._tag}: ${e.message}`
                    })
                )
              )
          )
          const body = JSON.stringify({
            type: "order.paid",
            timestamp: new Date().toISOString(),
            data: {
              order_number: order.orderNumber,
              // A name with a composed letter (NFC "ë"): the bad-input scenario re-sends it decomposed.
              customer: { name: `Chaos Zo\u00eb ${i}`, email: `chaos${i}@example.com` },
              currency: "USD",
              lines: order.lines.map((line, j) => ({
                order_line_id: line.orderLineId,
                asset_id: line.asset,
                quantity: line.quantity,
                unit_price: price(line.unitCents),
                line_price: price(line.unitCents * line.quantity),
                validation_token: tokens[j]?.token ?? "",
                token_expires_at: tokens[j]?.exp_date,
                ...(line.parts.length === 0
                  ? {}
                  : { parts: line.parts.map((p) => ({ asset_id: p.asset, order_line_id: p.orderLineId })) })
              }))
            }
          })
          return {
            order,
            webhookId: `chaos-${label}-${order.orderNumber}-${randomBytes(3).toString("hex")}`,
            body,
            tokens: tokens.map((t) => t.token)
          }
        }),
      { concurrency: 16 }
    )
  }).pipe(
    Effect.provide(
      HlConnect.Default({
        baseUrl: sandbox.url,
        accessToken: Redacted.make(sandbox.token),
        expectedEnvironment: "sandbox"
      })
    )
  )

/** The signed `order.refunded` of each refunded order (sent once its `order.paid` was acknowledged). */
export const refunds = (purchases: ReadonlyArray<Purchase>, label: string): ReadonlyArray<Purchase> =>
  purchases
    .filter((p) => p.order.refunded)
    .map((p) => ({
      order: p.order,
      webhookId: `chaos-${label}-refund-${p.order.orderNumber}-${randomBytes(3).toString("hex")}`,
      body: JSON.stringify({
        type: "order.refunded",
        timestamp: new Date().toISOString(),
        data: { order_number: p.order.orderNumber }
      }),
      tokens: []
    }))

export type Signer = (id: string, body: string | Buffer, at?: Date) => Record<string, string>

/**
 * Standard Webhooks headers for a body, signed with `secret` now (or at `at`): HMAC-SHA256 over
 * `id.timestamp.body` with the secret's base64 key. Over the body's exact bytes: the
 * `standardwebhooks` library's `sign` decodes a Buffer as UTF-8 first, which would not do for
 * bodies that are not UTF-8 (the subscriber verifies with the library).
 */
export const signer = (secret: string): Signer => {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64")
  return (id, body, at = new Date()) => {
    const timestamp = String(Math.floor(at.getTime() / 1000))
    const mac = createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest("base64")
    return {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": timestamp,
      "webhook-signature": `v1,${mac}`
    }
  }
}
