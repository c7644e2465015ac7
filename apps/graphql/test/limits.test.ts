/**
 * GraphQL Armor's limits at their defaults (depth 8, aliases 15, cost 5000, tokens 2000), and
 * the production switches: no introspection, no field suggestions, no GraphiQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { field, startServer, type TestServer } from "./support/server.js"

const messages = (body: { readonly errors?: ReadonlyArray<{ readonly message: string }> }) => (body.errors ?? []).map((e) => e.message)

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
    const bomb = await server.query(
      `{ __type(name: "Query") { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } }`
    )
    expect(bomb.body.data).toBeUndefined()
    expect(messages(bomb.body).join()).toMatch(/Query depth limit of 8 exceeded/)
  })

  it("an alias bomb is refused before execution (and never reaches HL Connect)", async () => {
    const aliases = (n: number) => Array.from({ length: n }, (_, i) => `a${i}: purchaseStatus(orderNumber: "${i + 1}") { __typename }`).join("\n")
    const ok = await server.query(`{ ${aliases(15)} }`)
    expect(ok.body.errors).toBeUndefined()
    const before = (await server.sandbox.run(server.sandbox.state.stats)).requests.purchaseInfo ?? 0
    const bomb = await server.query(`{ ${aliases(16)} }`)
    expect(messages(bomb.body).join()).toMatch(/Aliases limit of 15 exceeded/)
    expect((await server.sandbox.run(server.sandbox.state.stats)).requests.purchaseInfo ?? 0).toBe(before)
  })

  it("a query too costly is refused (page sizes multiply the cost)", async () => {
    const costly = await server.query(`{ orders(state: paid, first: 100) { edges { node { lines {
      orderNumber orderLineId asset quantity state remoteStatus downloadUrl viewUrl drift { drifted description } } } } } }`)
    expect(messages(costly.body).join()).toMatch(/Query Cost limit of 5000 exceeded/)
  })

  it("a document with too many tokens is refused", async () => {
    const huge = await server.query(`{ health { ${"ok ".repeat(2100)} } }`)
    expect(messages(huge.body).join()).toMatch(/Token limit of 2000 exceeded/)
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
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: health { ok }`).join(" ")
    const bomb = await server.query(`{ ${aliases} }`)
    expect(messages(bomb.body)).toHaveLength(1)
    expect(messages(bomb.body)[0]).toMatch(/Query validation error\.$/)
  })
})
