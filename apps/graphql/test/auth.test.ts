/**
 * API keys (bearer, constant-time), the open ops routes, GraphiQL's page and assets, and a real
 * GraphQL client (graphql-request).
 */
import { GraphQLClient, gql } from "graphql-request"
import { Option } from "effect"
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ApiKey, OtherApiKey, startServer, type TestServer } from "./support/server.js"

describe("authentication", () => {
  let server: TestServer
  let assets: string
  beforeAll(async () => {
    // A stand-in for the @graphql-yoga/graphiql build, to check the page is pointed at it.
    assets = await mkdtemp(join(tmpdir(), "graphiql-assets-"))
    await mkdir(join(assets, "monacoeditorwork"))
    await writeFile(join(assets, "yoga-graphiql.umd.js"), "window.YogaGraphiQL = {}")
    await writeFile(join(assets, "graphiql.css"), "body {}")
    server = await startServer({ settings: { graphiqlAssetsDir: Option.some(assets) } })
  })
  afterAll(async () => {
    await server?.close()
    await rm(assets, { recursive: true, force: true })
  })

  const health = "{ health { ok } }"

  it("no key, a wrong key or a malformed header: 401 with a JSON error, before GraphQL runs", async () => {
    for (const headers of [
      {},
      { authorization: "Bearer wrong-key" },
      { authorization: ApiKey },
      { authorization: `Basic ${ApiKey}` }
    ]) {
      const response = await fetch(server.graphqlUrl, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ query: health })
      })
      expect(response.status).toBe(401)
      expect(response.headers.get("www-authenticate")).toContain("Bearer")
      expect(await response.json()).toEqual({
        errors: [
          {
            message: "Missing or invalid API key: send `Authorization: Bearer <key>`.",
            extensions: { code: "UNAUTHENTICATED" }
          }
        ]
      })
    }
    const stats = await server.sandbox.run(server.sandbox.state.stats)
    expect(stats.requests.health).toBeUndefined()
  })

  it("any configured key works (rotation), the scheme is case-insensitive", async () => {
    for (const authorization of [`Bearer ${ApiKey}`, `bearer ${OtherApiKey}`]) {
      const { status, body } = await server.query(health, undefined, { authorization })
      expect(status).toBe(200)
      expect(body.errors).toBeUndefined()
    }
  })

  it("GET queries work too, and GraphQL responses are never cached", async () => {
    const response = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent(health)}`, {
      headers: { authorization: `Bearer ${ApiKey}`, accept: "application/json" }
    })
    expect(response.status).toBe(200)
    expect(response.headers.get("cache-control")).toBe("no-store")
  })

  it("health, readiness and metrics need no key", async () => {
    expect((await fetch(`${server.url}/health/live`)).status).toBe(200)
    const ready = await fetch(`${server.url}/health/ready`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({
      status: "ok",
      checks: [
        { name: "store", ok: true },
        { name: "hlconnect", ok: true }
      ]
    })
    await server.query(`{ a: purchaseStatus(orderNumber: "1") { __typename } }`)
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    expect(metrics).toContain("http_server_requests_total")
    expect(metrics).toContain("graphql_loader_batch_size")
    expect(metrics).toContain("hlconnect_client_calls_total")
  })

  it("GraphiQL's page is open (its queries need a key), with assets served locally", async () => {
    const page = await fetch(server.graphqlUrl, { headers: { accept: "text/html" } })
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain("/graphiql/assets/yoga-graphiql.umd.js")
    expect(html).not.toContain("unpkg.com")
    const script = await fetch(`${server.url}/graphiql/assets/yoga-graphiql.umd.js`)
    expect(script.status).toBe(200)
    expect(script.headers.get("content-type")).toContain("javascript")
    expect(await script.text()).toBe("window.YogaGraphiQL = {}")
    expect((await fetch(`${server.url}/graphiql/assets/../package.json`)).status).toBe(404)
    expect((await fetch(`${server.url}/graphiql/assets/monacoeditorwork/json.worker.bundle.js`)).status).toBe(404)
  })

  it("a real GraphQL client: graphql-request with the key", async () => {
    const client = new GraphQLClient(server.graphqlUrl, { headers: { authorization: `Bearer ${ApiKey}` } })
    const result = await client.request<{
      readonly health: { readonly ok: boolean }
      readonly status: { readonly __typename: string }
    }>(
      gql`
        query Status($order: ID!) {
          health { ok }
          status: purchaseStatus(orderNumber: $order) { __typename ... on OrderNotFound { message } }
        }
      `,
      { order: "31337" }
    )
    expect(result.health.ok).toBe(true)
    expect(result.status.__typename).toBe("OrderNotFound")
    const anonymous = new GraphQLClient(server.graphqlUrl)
    await expect(anonymous.request(gql`{ health { ok } }`)).rejects.toThrow(/UNAUTHENTICATED/)
  })
})
