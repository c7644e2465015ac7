/**
 * The bench's requests: signed `order.paid` events, one order each, as complete HTTP/1.1
 * request bytes. Built inside the load generator's thread, so the measured server's heap never
 * holds them.
 */
import { Either, Redacted } from "effect"
import { decodeSecret, signedHeaders } from "../src/Signature.js"

export const ingestPath = "/webhooks/commerce"

export const paidBody = (orderNumber: number, token: string) =>
  JSON.stringify({
    type: "order.paid",
    data: {
      order_number: orderNumber,
      customer: { name: "Bench Customer", email: "bench@example.com" },
      lines: [
        {
          order_line_id: 1,
          asset_id: 4000,
          quantity: 1,
          unit_price: "3.99",
          line_price: "3.99",
          validation_token: token
        }
      ]
    }
  })

/** The headers of a signed request (Standard Webhooks), signed now. */
export const signed = (secret: string, id: string, body: string): Record<string, string> => ({
  "content-type": "application/json",
  ...signedHeaders([Either.getOrThrow(decodeSecret(Redacted.make(secret)))], id, Math.floor(Date.now() / 1000), body)
})

export interface Batch {
  readonly secret: string
  /** Event ids are `${prefix}-${i}`; the relay would answer a repeated id as a duplicate. */
  readonly prefix: string
  readonly count: number
  /** Order numbers are `orderBase + i`. */
  readonly orderBase: number
  readonly token: string
}

/** `count` complete requests, bytes ready to write. */
export const rawRequests = (batch: Batch): Array<Buffer> =>
  Array.from({ length: batch.count }, (_, i) => {
    const body = paidBody(batch.orderBase + i, batch.token)
    const headers = Object.entries(signed(batch.secret, `${batch.prefix}-${i}`, body))
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("")
    return Buffer.from(
      `POST ${ingestPath} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body}`
    )
  })
