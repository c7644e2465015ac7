/**
 * The drift walk and the raw probe in-process: bodies walked against the definition's own wire
 * models, and answers from a real HTTP server that breaks the spec in every way the report knows.
 */
import { EndpointNames } from "@hlconnect/core"
import { Effect, Redacted } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DriftLedger } from "../src/Drift.js"
import { documented, endpoint } from "../src/Endpoints.js"
import { call, type Target } from "../src/Probe.js"

const rows = (ledger: DriftLedger) =>
  ledger
    .report()
    .filter((d) => d.kind !== "never-seen")
    .map((d) => `${d.severity} ${d.kind} ${d.endpoint} ${d.status} ${d.path}`)
    .sort()

const walk = (name: Parameters<typeof endpoint>[0], status: number, body: unknown) => {
  const ledger = new DriftLedger()
  const [model] = endpoint(name).statuses.get(status) ?? []
  if (model === undefined) throw new Error(`no model for ${name} ${status}`)
  ledger.walkBody(endpoint(name).label, status, model, body)
  return ledger
}

describe("the drift walk, along the models' AST", () => {
  it("reads every endpoint of the definition, by core's names, with the statuses it documents", () => {
    expect([...documented.keys()].sort()).toEqual([...EndpointNames].sort())
    expect([...endpoint("purchaseInfo").statuses.keys()].sort()).toEqual([200, 202, 401, 404, 500, 502])
    expect([...endpoint("health").statuses.keys()].sort()).toEqual([200, 500])
  })

  it("Int refinements, nested arrays, required keys and the two kinds of null", () => {
    const ledger = walk("listAssets", 200, {
      next_page: null,
      assets: [
        {
          asset_id: 1.5,
          page_count: 12.5,
          instruments: [{ type: 3, name: "Piano" }],
          contributors: null,
          title: null,
          voicing: null
        }
      ]
    })
    expect(rows(ledger)).toEqual([
      "breaking missing-required GET /assets/list 200 last_id",
      "breaking wrong-type GET /assets/list 200 assets[].asset_id",
      "breaking wrong-type GET /assets/list 200 assets[].instruments[].type",
      "breaking wrong-type GET /assets/list 200 assets[].page_count",
      // `title` is optional(String): not nullable in the spec, read as absent by the client;
      // `contributors` and `voicing` are nullable in the spec: no row.
      "warning unexpected-null GET /assets/list 200 assets[].title"
    ])
    expect(ledger.report().find((d) => d.path === "assets[].asset_id")?.detail).toBe(
      "expected Int, got a number outside it"
    )
    expect(ledger.report().find((d) => d.path === "assets[].instruments[].type")?.detail).toBe(
      "expected string, got number"
    )
  })

  it("a null where the model requires a value is breaking", () => {
    expect(rows(walk("validatePurchase", 200, { token: null, exp_date: 1 }))).toEqual([
      "breaking unexpected-null POST /purchase/validate-purchase-before-payment 200 token"
    ])
  })

  it("an optional field absent from every object is reported once with the count; seen once is enough", () => {
    const ledger = walk("health", 200, [])
    expect(rows(ledger)).toEqual([])
    const items = walk("purchaseInfo", 200, [
      { order_id: 1, status: "COMPLETED" },
      { order_id: 2, customer: "A" }
    ])
    const neverSeen = items.report().filter((d) => d.kind === "never-seen")
    expect(neverSeen.map((d) => d.path).sort()).toEqual([
      "[].asset_id",
      "[].country_code",
      "[].download_url",
      "[].line_item_price",
      "[].order_line_id",
      "[].quantity",
      "[].unit_price",
      "[].view_url"
    ])
    expect(neverSeen.every((d) => d.count === 2 && d.severity === "warning")).toBe(true)
  })
})

type Script = (request: IncomingMessage, response: ServerResponse) => void

describe("the raw probe", () => {
  let server: Server
  let target: Target
  let script: Script = (_request, response) => response.end()

  beforeAll(async () => {
    server = createServer((request, response) => script(request, response))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    target = { baseUrl: new URL(`http://127.0.0.1:${port}`), token: Redacted.make("probe-token") }
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it("statuses, bodies, content types and X-Environment outside the spec", async () => {
    const ledger = new DriftLedger()
    const answer = (status: number, headers: Record<string, string>, body: string) => {
      script = (_request, response) => {
        response.writeHead(status, headers)
        response.end(body)
      }
    }
    const run = (name: Parameters<typeof call>[2], query?: Record<string, number>) =>
      Effect.runPromise(call(target, ledger, name, query === undefined ? {} : { query }))

    answer(200, { "content-type": "text/html" }, "<html>ok</html>")
    expect((await run("health")).status).toBe(200)
    answer(418, { "content-type": "application/json" }, "{}")
    expect((await run("purchaseInfo", { order_id: 1 })).documented).toBe(false)
    answer(201, { "x-environment": "sandbox", "content-type": "text/plain" }, "created")
    await run("cancelOrderLine", { order_id: 1, order_line_id: 1 })
    answer(
      200,
      { "x-environment": "production", "content-type": "text/plain" },
      JSON.stringify({ url: "https://example.test/v" })
    )
    await run("viewUrl", { order_id: 1, order_line_id: 1 })

    expect(rows(ledger)).toEqual([
      "breaking non-json-body GET /health 200 ",
      "breaking undocumented-status GET /purchase/info 418 ",
      "warning content-type GET /purchase/view-url 200 ",
      "warning environment-changed GET /purchase/view-url 200 ",
      "warning missing-environment GET /health 200 ",
      "warning unexpected-body DELETE /purchase/cancel 201 "
    ])
    expect(ledger.environmentsSeen).toEqual(["sandbox", "production"])
    // Nothing of a body is repeated in the report: a URL is a credential.
    expect(JSON.stringify(ledger.report())).not.toContain("example.test")
  })

  it("a redirect is reported, not followed", async () => {
    const ledger = new DriftLedger()
    script = (_request, response) => {
      response.writeHead(302, { location: "http://127.0.0.1:1/elsewhere" })
      response.end()
    }
    const answer = await Effect.runPromise(call(target, ledger, "listAssets"))
    expect(answer.status).toBe(302)
    expect(rows(ledger)).toEqual(["breaking undocumented-status GET /assets/list 302 "])
  })
})
