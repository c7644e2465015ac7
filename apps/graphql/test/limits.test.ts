/**
 * GraphQL Armor's limits at their defaults (depth 8, aliases 15, cost 5000, tokens 2000), each
 * violation a 400 whatever the Accept header, and the production switches: no introspection, no
 * field suggestions, no GraphiQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ApiKey, field, type GraphqlBody, startServer, type TestServer } from "./support/server.js"

const messages = (body: { readonly errors?: ReadonlyArray<{ readonly message: string }> }) =>
  (body.errors ?? []).map((e) => e.message)

const accepts = ["application/graphql-response+json", "application/json", "*/*"] as const

/** POSTs `query` asking for `accept`. */
const post = async (
  server: TestServer,
  query: string,
  accept: string
): Promise<{ readonly status: number; readonly body: GraphqlBody }> => {
  const response = await fetch(server.graphqlUrl, {
    method: "POST",
    headers: { authorization: `Bearer ${ApiKey}`, "content-type": "application/json", accept },
    body: JSON.stringify({ query })
  })
  const body: GraphqlBody = await response.json()
  return { status: response.status, body }
}

/** A refusal: 400 under every media type, no `data`, one error saying `says`. */
const expectRefused = async (server: TestServer, query: string, says: RegExp) => {
  for (const accept of accepts) {
    const { status, body } = await post(server, query, accept)
    expect({ accept, status }).toEqual({ accept, status: 400 })
    expect(body.data).toBeUndefined()
    expect(messages(body).join()).toMatch(says)
    expect(messages(body).join()).not.toContain("Syntax Error")
    expect(body.errors?.[0]?.extensions?.code).toBe("QUERY_LIMIT_EXCEEDED")
  }
}

const depthBomb = `{ __type(name: "Query") { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } }`
const aliases = (n: number, field = "health { ok }") =>
  `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ")} }`

describe("limits", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  it("a depth bomb is refused before execution", async () => {
    const ok = await server.query(`{ __type(name: "Query") { fields { type { ofType { name } } } } }`)
    expect(ok.body.errors).toBeUndefined()
    await expectRefused(server, depthBomb, /^Query depth limit of 8 exceeded, found 10\.$/)
  })

  it("an alias bomb is refused before execution (and never reaches HL Connect)", async () => {
    const statuses = (n: number) =>
      Array.from({ length: n }, (_, i) => `a${i}: purchaseStatus(orderNumber: "${i + 1}") { __typename }`).join("\n")
    const ok = await server.query(`{ ${statuses(15)} }`)
    expect(ok.body.errors).toBeUndefined()
    const before = (await server.sandbox.run(server.sandbox.state.stats)).requests.purchaseInfo ?? 0
    await expectRefused(server, `{ ${statuses(16)} }`, /^Aliases limit of 15 exceeded, found 16\.$/)
    await expectRefused(
      server,
      aliases(100, `purchaseStatus(orderNumber: "1") { __typename }`),
      /^Aliases limit of 15 exceeded, found 100\.$/
    )
    expect((await server.sandbox.run(server.sandbox.state.stats)).requests.purchaseInfo ?? 0).toBe(before)
  })

  it("a query too costly is refused (page sizes multiply the cost)", async () => {
    const costly = `{ orders(state: paid, first: 100) { edges { node { lines {
      orderNumber orderLineId asset quantity state remoteStatus downloadUrl viewUrl drift { drifted description } } } } } }`
    await expectRefused(server, costly, /Query Cost limit of 5000 exceeded/)
  })

  it("a document with too many tokens is refused (while parsing)", async () => {
    await expectRefused(server, `{ health { ${"ok ".repeat(2100)} } }`, /^Token limit of 2000 exceeded\.$/)
  })

  it("a limit is a 400 beside other validation errors; other errors keep GraphQL over HTTP's statuses", async () => {
    const both = await post(server, `{ nope ${aliases(16).slice(1, -1)} }`, "application/json")
    expect(both.status).toBe(400)
    expect(messages(both.body)).toEqual([
      "Aliases limit of 15 exceeded, found 16.",
      'Cannot query field "nope" on type "Query".'
    ])
    // Not a limit: 400 for the new media type, 200 for legacy application/json clients.
    expect((await post(server, "{ nope }", "application/graphql-response+json")).status).toBe(400)
    const legacy = await post(server, "{ nope }", "application/json")
    expect([legacy.status, messages(legacy.body).join()]).toEqual([200, 'Cannot query field "nope" on type "Query".'])
  })

  it("development: introspection on, field suggestions on", async () => {
    const typo = await server.query(`{ helth { ok } }`)
    expect(messages(typo.body).join()).toContain('Did you mean "health"?')
    const introspection = await server.query(`{ __schema { queryType { name } } }`)
    expect(field(introspection.body.data, "__schema", "queryType", "name")).toBe("Query")
  })
})

describe("production", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ settings: { production: true, introspection: false, graphiql: false } })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("introspection off, field suggestions off, GraphiQL off, limits not explained", async () => {
    const introspection = await server.query(`{ __schema { queryType { name } } }`)
    expect(introspection.body.data).toBeUndefined()
    expect(messages(introspection.body).join()).toContain("introspection")
    const typo = await server.query(`{ helth { ok } }`)
    expect(messages(typo.body).join()).not.toContain("Did you mean")
    const page = await fetch(`${server.url}/graphql`, { headers: { accept: "text/html" } })
    expect(page.status).toBe(401)
    for (const accept of accepts) {
      const bomb = await post(server, aliases(16), accept)
      expect(bomb.status).toBe(400)
      expect(messages(bomb.body)).toEqual(["Query validation error."])
    }
  })
})
