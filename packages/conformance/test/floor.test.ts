/**
 * The benches' floor server (a canned `/purchase/info` responder in its own process) answers what
 * the core client expects from the sandbox, so a bench against it measures the same call.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { HlConnect } from "@hlconnect/core"
import { type ServerProcess, serverScripts, startServerProcess } from "../src/bench/index.js"
import { Effect, Redacted } from "effect"

const token = "floor-test-token"

describe("floor server", () => {
  let floor: ServerProcess
  beforeAll(async () => {
    floor = await startServerProcess({ script: serverScripts.floor, env: { SANDBOX_TOKENS: token } })
  })
  afterAll(() => floor.stop())

  it("answers purchaseInfo with one completed line the core client decodes", async () => {
    const outcome = await Effect.runPromise(
      Effect.flatMap(HlConnect, (hl) => hl.purchaseInfo({ order_id: 910_001 })).pipe(
        Effect.provide(HlConnect.Default({ baseUrl: floor.url, accessToken: Redacted.make(token) }))
      )
    )
    expect(outcome._tag).toBe("Completed")
    if (outcome._tag === "Completed") {
      expect(outcome.items.map((item) => [item.order_id, item.asset_id, item.status])).toEqual([
        [910_001, 4000, "COMPLETED"]
      ])
    }
  })

  it("refuses a request without the token, as the sandbox does", async () => {
    const response = await fetch(`${floor.url}/purchase/info?order_id=1`)
    await response.arrayBuffer()
    expect(response.status).toBe(401)
  })
})
