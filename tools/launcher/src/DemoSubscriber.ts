/**
 * A subscriber of the relay's order events inside the launcher, so a first run shows the whole
 * loop: it verifies each delivery's Standard Webhooks signature with the relay's own verifier and
 * logs what arrived (order, type, sequence, line, state). Never a URL or a secret: events carry
 * none, and the body is not logged.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { HttpMetrics } from "@hlconnect/service"
import { Signature } from "@hlconnect/webhook-relay"
import { Clock, Context, Duration, Effect, Either, Layer, Option, type Redacted, Schema } from "effect"
import { localUrl } from "./Addresses.js"

export const eventsPath = "/events"

/** Where the demo subscriber listens, with the secret the relay signs its deliveries with; `None` when it is off. */
export class DemoSubscriber extends Context.Tag("@hlconnect/launcher/DemoSubscriber")<
  DemoSubscriber,
  Option.Option<{ readonly url: string; readonly secret: Redacted.Redacted<string> }>
>() {}

/** Only the fields worth a log line; the rest of the envelope is ignored. */
const Delivery = Schema.parseJson(
  Schema.Struct({
    type: Schema.String,
    order_number: Schema.String,
    sequence: Schema.Number,
    data: Schema.optional(
      Schema.Struct({
        line: Schema.optional(Schema.Struct({ order_line_id: Schema.String, state: Schema.String }))
      })
    )
  })
)
const decodeDelivery = Schema.decodeUnknownEither(Delivery)

// As Standard Webhooks libraries do by default.
const tolerance = Duration.minutes(5)

const handler = (key: Signature.SigningKey) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const body = Buffer.from(yield* request.arrayBuffer)
    const verified = Signature.verify(
      {
        id: request.headers["webhook-id"],
        timestamp: request.headers["webhook-timestamp"],
        signature: request.headers["webhook-signature"]
      },
      body,
      { keys: [key], toleranceSeconds: Duration.toSeconds(tolerance), nowMillis: yield* Clock.currentTimeMillis }
    )
    if (Either.isLeft(verified)) {
      yield* Effect.logWarning("demo subscriber: refused a delivery", { reason: verified.left.message })
      return HttpServerResponse.empty({ status: 401 })
    }
    const delivery = decodeDelivery(body.toString("utf8"))
    if (Either.isLeft(delivery)) {
      yield* Effect.logWarning("demo subscriber: a signed delivery it cannot read", { webhookId: verified.right.id })
      return HttpServerResponse.empty({ status: 400 })
    }
    const event = delivery.right
    yield* Effect.logInfo(`demo subscriber received ${event.type}`, {
      orderNumber: event.order_number,
      type: event.type,
      sequence: event.sequence,
      orderLineId: event.data?.line?.order_line_id,
      state: event.data?.line?.state
    })
    return HttpServerResponse.empty({ status: 204 })
  }).pipe(
    // A body that cannot be read is the sender's problem; say so rather than answer 500.
    Effect.catchTag("RequestError", () => Effect.succeed(HttpServerResponse.empty({ status: 400 })))
  )

export class InvalidDemoSecret extends Schema.TaggedError<InvalidDemoSecret>()("InvalidDemoSecret", {
  message: Schema.String
}) {}

/** Serves `POST /events` on the provided server and tells where it is. */
export const layer = (
  secret: Redacted.Redacted<string>
): Layer.Layer<DemoSubscriber, InvalidDemoSecret, HttpServer.HttpServer> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const key = yield* Either.match(Signature.decodeSecret(secret), {
        onLeft: (error) => Effect.fail(new InvalidDemoSecret({ message: `demo subscriber secret: ${error.message}` })),
        onRight: Effect.succeed
      })
      const router = HttpRouter.empty.pipe(HttpRouter.post(eventsPath, handler(key)))
      const where = Layer.effect(
        DemoSubscriber,
        Effect.map(HttpServer.HttpServer, (server) =>
          Option.some({ url: `${localUrl(server.address)}${eventsPath}`, secret })
        )
      )
      return Layer.merge(HttpServer.serve(router, HttpMetrics.middleware), where)
    })
  )

/** When the demo subscriber is turned off (`DEMO_SUBSCRIBER=false`). */
export const off: Layer.Layer<DemoSubscriber> = Layer.succeed(DemoSubscriber, Option.none())
