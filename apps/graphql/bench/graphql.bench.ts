/**
 * `pnpm bench`: one GraphQL query fetching 50 orders, each named twice (100 references), against
 * the sandbox and a temporary SQLite store. Checks that upstream `purchaseInfo` calls equal the
 * distinct orders, then compares throughput with a loop calling the core client directly for
 * the same 50 orders (target: at least 0.6× of it).
 */
import { HlConnect } from "@hlconnect/core"
import { Duration, Effect, ManagedRuntime, Redacted } from "effect"
import { SandboxToken } from "@hlconnect/sandbox"
import { registerAtSandbox, resetStats, storeOrder, upstreamRequests } from "../test/support/seed.js"
import { field, startServer } from "../test/support/server.js"

const Distinct = 50
const Target = 0.6
const WarmupMillis = 2_000
/** Alternating slices of each, so both see the same machine load. */
const Rounds = 10
const SliceMillis = 800
const Concurrency = 16

const orders = Array.from({ length: Distinct }, (_, i) => 8000 + i)
const references = [...orders, ...orders].map(String)
const query = `query Bench($orders: [ID!]!) {
  ordersByNumber(orderNumbers: $orders) {
    orderNumber
    lines { orderLineId state remoteStatus }
    remote { __typename ... on PurchaseCompleted { items { orderLineId status } } }
  }
}`

interface Tally {
  runs: number
  millis: number
}

/** Runs `once` back to back for about `millis`, adding to `tally`. */
const slice = async (once: () => Promise<void>, millis: number, tally: Tally): Promise<void> => {
  const started = performance.now()
  while (performance.now() - started < millis) {
    await once()
    tally.runs++
  }
  tally.millis += performance.now() - started
}

const perSecond = (tally: Tally) => tally.runs / (tally.millis / 1000)

const main = async () => {
  // Lines complete at once, so every answer is a full 200 with items.
  // Short-lived URLs keep the sandbox's URL table small over thousands of calls.
  const server = await startServer({
    sandbox: { fulfilmentDelay: Duration.zero, urlTtl: Duration.seconds(1) },
    // Throughput is measured here, not the per-key rate limit: no bucket in the way.
    settings: {
      upstreamConcurrency: Concurrency,
      upstream: { maxCallsPerRequest: 200, ratePerSecond: Number.MAX_SAFE_INTEGER, burst: Number.MAX_SAFE_INTEGER }
    }
  })
  const client = ManagedRuntime.make(
    HlConnect.layer({ baseUrl: server.sandbox.url, accessToken: Redacted.make(SandboxToken), maxAttempts: 1 })
  )
  try {
    for (const order of orders) {
      await registerAtSandbox(server, order, [{ lineId: 1 }])
      await storeOrder(server, String(order), [{ lineId: 1, state: "completed" }])
    }

    const graphqlOnce = async () => {
      const { body } = await server.query(query, { orders: references })
      if (body.errors !== undefined) throw new Error(`query failed: ${JSON.stringify(body.errors)}`)
      if (field(body.data, "ordersByNumber", references.length - 1, "remote", "__typename") !== "PurchaseCompleted") {
        throw new Error("unexpected answer")
      }
    }
    const directOnce = () =>
      client.runPromise(
        Effect.flatMap(HlConnect, (hl) =>
          Effect.forEach(orders, (order) => hl.purchaseInfo({ order_id: order }), {
            concurrency: Concurrency,
            discard: true
          })
        )
      )

    await resetStats(server)
    await graphqlOnce()
    const calls = (await upstreamRequests(server)).purchaseInfo ?? 0
    console.log(
      `one query, ${references.length} order references (${Distinct} distinct): ${calls} upstream purchaseInfo calls`
    )
    if (calls !== Distinct) throw new Error(`expected ${Distinct} upstream calls, saw ${calls}`)

    await slice(graphqlOnce, WarmupMillis, { runs: 0, millis: 0 })
    await slice(directOnce, WarmupMillis, { runs: 0, millis: 0 })
    const graphql: Tally = { runs: 0, millis: 0 }
    const direct: Tally = { runs: 0, millis: 0 }
    for (let round = 0; round < Rounds; round++) {
      await slice(graphqlOnce, SliceMillis, graphql)
      await slice(directOnce, SliceMillis, direct)
    }
    const graphqlRate = perSecond(graphql)
    const directRate = perSecond(direct)
    const ratio = graphqlRate / directRate
    console.log(`GraphQL facade : ${graphqlRate.toFixed(1)} queries/s (each ${Distinct} orders: store + HL Connect)`)
    console.log(
      `core client    : ${directRate.toFixed(1)} loops/s (each ${Distinct} purchaseInfo calls, concurrency ${Concurrency})`
    )
    console.log(
      `ratio          : ${ratio.toFixed(2)}× (target ≥ ${Target}×) ${ratio >= Target ? "OK" : "BELOW TARGET"}`
    )
  } finally {
    await client.dispose()
    await server.close()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
