/**
 * The demo a first run prints: validate two lines through GraphQL (a real validation token from
 * the HL Connect the launcher talks to), send the signed `order.paid` a commerce platform would
 * send to the relay, then follow the order through GraphQL until every line has settled. It finds
 * the running launcher through `<DATA_DIR>/launcher.json`; a secret set in the environment (the
 * same variables the launcher reads) wins over the file's.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { GraphqlConfig } from "@hlconnect/graphql"
import { loadConfig } from "@hlconnect/service"
import { RelayConfig, Signature } from "@hlconnect/webhook-relay"
import { Clock, Config, Console, Data, Duration, Effect, Option, Schema } from "effect"
import { defaultDataDir } from "./LauncherConfig.js"
import * as LauncherFile from "./LauncherFile.js"
import * as Secrets from "./Secrets.js"

export class DemoFailed extends Data.TaggedError("DemoFailed")<{ readonly message: string }> {
  override toString() {
    return this.message
  }
}

/** Two lines a US buyer may buy (the sandbox places 192.0.2.0/24 in the US). */
const demoLines = [
  { orderLineId: 1, assetId: 4000, title: "Für Elise", unitPrice: "3.99" },
  { orderLineId: 2, assetId: 4002, title: "Yesterday", unitPrice: "4.99" }
] as const
const customerIp = "192.0.2.10"

const settledStates = new Set(["completed", "failed", "cancelled", "needs_attention"])

const GraphqlErrors = Schema.optional(Schema.Array(Schema.Struct({ message: Schema.String })))

const ValidateResponse = Schema.Struct({
  data: Schema.NullOr(
    Schema.Struct({
      validatePurchase: Schema.Union(
        Schema.Struct({
          __typename: Schema.Literal("ValidationToken"),
          token: Schema.String,
          expiresAt: Schema.String
        }),
        Schema.Struct({ __typename: Schema.String, message: Schema.String })
      )
    })
  ),
  errors: GraphqlErrors
})

const OrderResponse = Schema.Struct({
  data: Schema.NullOr(
    Schema.Struct({
      order: Schema.NullOr(
        Schema.Struct({ lines: Schema.Array(Schema.Struct({ orderLineId: Schema.String, state: Schema.String })) })
      )
    })
  ),
  errors: GraphqlErrors
})

const RelayAnswer = Schema.Struct({ message: Schema.optional(Schema.String), error: Schema.optional(Schema.String) })

const validateMutation = `mutation Validate($input: ValidatePurchaseInput!) {
  validatePurchase(input: $input) { __typename ... on ValidationToken { token expiresAt } ... on Problem { message } }
}`
const orderQuery = "query Order($n: ID!) { order(orderNumber: $n) { lines { orderLineId state } } }"

const unreachable = (what: string, url: string) => () =>
  new DemoFailed({ message: `cannot reach the ${what} at ${url}: is the launcher running (npm start)?` })

export const program = Effect.gen(function* () {
  const dataDir = yield* loadConfig(Config.nonEmptyString("DATA_DIR").pipe(Config.withDefault(defaultDataDir)))
  const path = LauncherFile.pathIn(dataDir)
  const file = yield* LauncherFile.read(path)
  const endpoints = Option.flatMap(file, (f) => Option.fromNullable(f.endpoints))
  if (Option.isNone(file) || Option.isNone(endpoints)) {
    return yield* new DemoFailed({ message: `no running launcher found (${path}): start it with npm start` })
  }
  const { graphql, relayIngest, sandbox } = endpoints.value
  if (!sandbox) {
    return yield* new DemoFailed({
      message: "the launcher talks to a real HL Connect (HLCONNECT_BASE_URL): the demo only buys from the sandbox"
    })
  }
  const { apiKeys, keys } = yield* loadConfig(
    Config.all({
      apiKeys: Config.map(GraphqlConfig, (c) => c.apiKeys),
      keys: Config.map(RelayConfig.RelayConfig, (c) => c.webhookKeys)
    })
  ).pipe(Effect.withConfigProvider(Secrets.provider(file.value.generated, { sandbox: false })))
  const apiKey = apiKeys[0]
  const key = keys[0]
  if (apiKey === undefined || key === undefined)
    return yield* new DemoFailed({ message: "no GraphQL API key or relay webhook secret" })

  const client = yield* HttpClient.HttpClient
  const ask = <A, I>(schema: Schema.Schema<A, I>, query: string, variables: Record<string, unknown>) =>
    HttpClientRequest.post(graphql).pipe(
      HttpClientRequest.bearerToken(apiKey),
      HttpClientRequest.bodyUnsafeJson({ query, variables }),
      client.execute,
      Effect.flatMap(HttpClientResponse.schemaBodyJson(schema)),
      Effect.scoped,
      Effect.catchTags({
        RequestError: unreachable("GraphQL facade", graphql),
        ResponseError: (e) => new DemoFailed({ message: `GraphQL answered ${e.response.status}` }),
        ParseError: () => new DemoFailed({ message: "GraphQL answered something unexpected" })
      })
    )

  // A fresh order number per run: milliseconds since the epoch are unique enough for a demo.
  const orderNumber = String(yield* Clock.currentTimeMillis)
  const lines: Array<Record<string, string | number>> = []
  for (const line of demoLines) {
    const answer = yield* ask(ValidateResponse, validateMutation, {
      input: { assetId: line.assetId, customerIp, quantity: 1 }
    })
    const result = answer.data?.validatePurchase
    if (result === undefined) {
      return yield* new DemoFailed({ message: `validatePurchase failed: ${answer.errors?.[0]?.message ?? "no data"}` })
    }
    if (!("token" in result))
      return yield* new DemoFailed({ message: `HL Connect refused ${line.title}: ${result.message}` })
    lines.push({
      order_line_id: line.orderLineId,
      asset_id: line.assetId,
      quantity: 1,
      unit_price: line.unitPrice,
      line_price: line.unitPrice,
      validation_token: result.token,
      token_expires_at: Math.floor(Date.parse(result.expiresAt) / 1000)
    })
  }
  yield* Console.log(`Validated ${demoLines.map((l) => l.title).join(" and ")} through GraphQL (${graphql}).`)

  const body = JSON.stringify({
    type: "order.paid",
    timestamp: new Date(yield* Clock.currentTimeMillis).toISOString(),
    data: {
      order_number: orderNumber,
      customer: { name: "Demo Customer", email: "demo@example.com" },
      currency: "USD",
      lines
    }
  })
  const now = yield* Clock.currentTimeMillis
  const response = yield* HttpClientRequest.post(relayIngest).pipe(
    HttpClientRequest.setHeaders(
      Signature.signedHeaders([key], `msg_demo_${orderNumber}`, Math.floor(now / 1000), body)
    ),
    HttpClientRequest.bodyText(body, "application/json"),
    client.execute,
    Effect.flatMap((r) =>
      Effect.map(HttpClientResponse.schemaBodyJson(RelayAnswer)(r).pipe(Effect.option), (answer) => ({
        status: r.status,
        answer
      }))
    ),
    Effect.scoped,
    Effect.catchTag("RequestError", unreachable("relay", relayIngest))
  )
  if (response.status !== 202 && response.status !== 200) {
    const reason = Option.match(response.answer, { onNone: () => "", onSome: (a) => `: ${a.message ?? a.error ?? ""}` })
    return yield* new DemoFailed({ message: `the relay answered ${response.status}${reason}` })
  }
  yield* Console.log(`Sent a signed order.paid for order ${orderNumber}: the relay answered ${response.status}.`)

  // Follow the order until every line settles; print each change.
  const timeout = yield* loadConfig(Config.duration("DEMO_TIMEOUT").pipe(Config.withDefault(Duration.seconds(60))))
  const deadline = now + Duration.toMillis(timeout)
  const seen = new Map<string, string>()
  while (true) {
    const answer = yield* ask(OrderResponse, orderQuery, { n: orderNumber })
    for (const line of answer.data?.order?.lines ?? []) {
      if (seen.get(line.orderLineId) !== line.state) {
        const before = seen.get(line.orderLineId)
        seen.set(line.orderLineId, line.state)
        yield* Console.log(
          `  order ${orderNumber} line ${line.orderLineId}: ${before === undefined ? "" : `${before} → `}${line.state}`
        )
      }
    }
    const states = Array.from(seen.values())
    if (states.length === demoLines.length && states.every((s) => settledStates.has(s))) break
    if ((yield* Clock.currentTimeMillis) > deadline) {
      return yield* new DemoFailed({
        message: `order ${orderNumber} has not settled within ${Duration.format(timeout)}; see the launcher's log`
      })
    }
    yield* Effect.sleep(Duration.millis(500))
  }
  const elapsed = Duration.format(Duration.millis((yield* Clock.currentTimeMillis) - now))
  yield* Console.log(
    [
      `Order ${orderNumber} settled in ${elapsed}. The launcher's demo subscriber logged each order event it received.`,
      "Read it, with fresh download URLs, in GraphiQL or with:",
      `  curl -s ${graphql} -H 'authorization: Bearer <GraphQL API key>' -H 'content-type: application/json' \\`,
      `    -d '{"query":"{ order(orderNumber: \\"${orderNumber}\\") { lines { orderLineId state downloadUrl } } }"}'`
    ].join("\n")
  )
})
