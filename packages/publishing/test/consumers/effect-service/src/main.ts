// An Effect service outside the monorepo: validate → register → poll until completed → download
// URL, against the sandbox started in-process from the installed @hlconnect/sandbox.
import { HlConnect } from "@hlconnect/core"
import { Sandbox, SandboxServer } from "@hlconnect/sandbox"
import { Effect, Layer, Redacted, Schedule } from "effect"

const token = Redacted.make("consumer-test-token")

// The fake HL Connect on an ephemeral loopback port, accepting our token.
const SandboxLive = Sandbox.layerTest({ accessTokens: [token], fulfilmentPolls: 2 })

// The client, pointed at wherever the sandbox listens.
const HlConnectLive = Layer.unwrapEffect(
  Effect.map(SandboxServer, ({ url }) => HlConnect.layer({ baseUrl: url, accessToken: token, expectedEnvironment: "sandbox" }))
).pipe(Layer.provide(SandboxLive))

class StillProcessing {
  readonly _tag = "StillProcessing"
}

const program = Effect.gen(function* () {
  const hl = yield* HlConnect
  const order_number = 12345
  const { token: validation } = yield* hl.validatePurchase({ asset_id: 4000, customer_ip: "203.0.113.1", quantity: 1 })
  yield* hl.registerPurchase({
    token: validation,
    order_number,
    order_line_id: 1,
    unit_price: 3.99,
    line_item_price: 3.99,
    customer: "John Customer"
  })
  const items = yield* hl.purchaseInfo({ order_id: order_number }).pipe(
    Effect.flatMap((outcome) =>
      outcome._tag === "Completed" ? Effect.succeed(outcome.items) : Effect.fail(new StillProcessing())
    ),
    Effect.retry({
      while: (e) => e instanceof StillProcessing,
      schedule: Schedule.spaced("200 millis").pipe(Schedule.intersect(Schedule.recurs(50)))
    })
  )
  // A download URL is a short-lived credential: use it, never log it.
  const { url } = yield* hl.downloadUrl({ order_id: order_number, order_line_id: 1 })
  const download = yield* Effect.promise(() => fetch(url))
  return { consumer: "effect-service", status: items[0]?.status, download: download.status }
})

Effect.runPromise(program.pipe(Effect.provide(HlConnectLive))).then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.error(error)
    process.exitCode = 1
  }
)
