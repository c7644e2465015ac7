/**
 * A local subscriber of the relay's outbound events: a `node:http` server that verifies every
 * delivery with the `standardwebhooks` library and records what arrived. It can answer 500 to a
 * share of deliveries, so the relay's retries are part of the test.
 */
import { Effect, Either, Schema, type Scope } from "effect"
import { createServer, type IncomingMessage } from "node:http"
import { Webhook, WebhookVerificationError } from "standardwebhooks"
import { SetupFailed } from "./Errors.js"
import type * as Random from "./Random.js"
import * as Secrets from "./Secrets.js"

/** The relay's outbound body: `{ type, timestamp, order_number, sequence, data }`. */
const Outbound = Schema.Struct({
  type: Schema.String,
  timestamp: Schema.String,
  order_number: Schema.String,
  sequence: Schema.Number,
  data: Schema.Struct({ line: Schema.optional(Schema.Struct({ order_line_id: Schema.String, state: Schema.String })) })
})
const decodeOutbound = Schema.decodeUnknownEither(Schema.parseJson(Outbound))

export interface Received {
  readonly webhookId: string
  readonly type: string
  readonly orderNumber: string
  readonly sequence: number
  readonly orderLineId: string | undefined
  /** Deliveries of this id (more than one: at-least-once redelivery). */
  readonly deliveries: number
}

export interface Snapshot {
  readonly received: ReadonlyMap<string, Received>
  /** Requests whose signature did not verify. */
  readonly badSignatures: number
  /** Verified requests whose body was not an outbound event. */
  readonly malformed: number
  /** 500s we answered on purpose. */
  readonly injectedFailures: number
}

export interface Subscriber {
  readonly url: string
  readonly secret: string
  readonly snapshot: Effect.Effect<Snapshot>
}

export interface Options {
  /** Share of deliveries answered 500 (the relay retries them). */
  readonly failRate: number
  readonly random: Random.Random
}

const headersOf = (req: IncomingMessage): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") out[k] = v
  return out
}

export const make = (options: Options): Effect.Effect<Subscriber, SetupFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const secret = Secrets.newWebhookSecret()
    const verifier = new Webhook(secret)
    const received = new Map<string, Received>()
    let badSignatures = 0
    let malformed = 0
    let injectedFailures = 0

    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8")
        const headers = headersOf(req)
        const verified = Either.try({
          try: () => verifier.verify(body, headers),
          catch: (e) => (e instanceof WebhookVerificationError ? e.message : String(e))
        })
        if (Either.isLeft(verified)) {
          badSignatures++
          res.writeHead(401, { "content-type": "text/plain" }).end(`signature: ${verified.left}`)
          return
        }
        if (options.random.chance(options.failRate)) {
          injectedFailures++
          res.writeHead(500, { "content-type": "text/plain" }).end("injected failure")
          return
        }
        const event = decodeOutbound(body)
        if (Either.isLeft(event)) {
          malformed++
          res.writeHead(400, { "content-type": "text/plain" }).end("not an outbound event")
          return
        }
        const id = headers["webhook-id"] ?? ""
        const before = received.get(id)
        received.set(id, {
          webhookId: id,
          type: event.right.type,
          orderNumber: event.right.order_number,
          sequence: event.right.sequence,
          orderLineId: event.right.data.line?.order_line_id,
          deliveries: (before?.deliveries ?? 0) + 1
        })
        res.writeHead(204).end()
      })
    })
    const port = yield* Effect.acquireRelease(
      Effect.async<number, SetupFailed>((resume) => {
        server.once("error", (e) => resume(Effect.fail(new SetupFailed({ message: `subscriber: ${e.message}` }))))
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    return {
      url: `http://127.0.0.1:${port}/hooks`,
      secret,
      snapshot: Effect.sync(() => ({ received: new Map(received), badSignatures, malformed, injectedFailures }))
    }
  })
