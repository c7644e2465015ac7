/**
 * Browser-facing hygiene: CORS only for allow-listed origins and never with credentials, and no
 * POST body a browser could send cross-site without a preflight (forms, text/plain).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { upstreamRequests } from "./support/seed.js"
import { ApiKey, startServer, type TestServer } from "./support/server.js"

const query = JSON.stringify({ query: `{ purchaseStatus(orderNumber: "9001") { __typename } }` })

const post = (server: TestServer, headers: Record<string, string>, body: string | FormData | URLSearchParams = query) =>
  fetch(server.graphqlUrl, { method: "POST", headers: { authorization: `Bearer ${ApiKey}`, ...headers }, body })

describe("CORS: none by default", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  it("an Origin is not reflected, and credentials are never allowed", async () => {
    const response = await post(server, { "content-type": "application/json", origin: "https://evil.example" })
    expect(response.status).toBe(200)
    expect(response.headers.get("access-control-allow-origin")).toBeNull()
    expect(response.headers.get("access-control-allow-credentials")).toBeNull()
  })

  it("forms and text/plain are refused with 415 before anything is parsed or sent; JSON is served", async () => {
    const before = (await upstreamRequests(server)).purchaseInfo ?? 0
    const form = new FormData()
    form.set("operations", query)
    for (const [contentType, body] of [
      [
        "application/x-www-form-urlencoded",
        new URLSearchParams({ query: `{ purchaseStatus(orderNumber: "9001") { __typename } }` })
      ],
      [undefined, form],
      ["text/plain", query],
      ["text/plain;charset=UTF-8", query],
      ["application/graphql", `{ purchaseStatus(orderNumber: "9001") { __typename } }`]
    ] as const) {
      const response = await post(server, contentType === undefined ? {} : { "content-type": contentType }, body)
      expect({ contentType, status: response.status }).toEqual({ contentType, status: 415 })
      expect(await response.json()).toEqual({
        errors: [
          {
            message: "Unsupported content type: POST a GraphQL request as application/json.",
            extensions: { code: "UNSUPPORTED_MEDIA_TYPE" }
          }
        ]
      })
    }
    expect((await upstreamRequests(server)).purchaseInfo ?? 0).toBe(before)
    // With a charset, JSON is JSON.
    expect((await post(server, { "content-type": "application/json; charset=utf-8" })).status).toBe(200)
    // Without a key the answer is still 401, whatever the body.
    const anonymous = await fetch(server.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: query
    })
    expect(anonymous.status).toBe(401)
  })
})

describe("CORS: an allow-list", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ settings: { corsOrigins: ["https://shop.example", "http://localhost:3000"] } })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("allowed origins get CORS without credentials, preflight included; others get none", async () => {
    const allowed = await post(server, { "content-type": "application/json", origin: "https://shop.example" })
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://shop.example")
    expect(allowed.headers.get("access-control-allow-credentials")).toBeNull()

    const preflight = await fetch(server.graphqlUrl, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:3000",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type"
      }
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://localhost:3000")
    expect(preflight.headers.get("access-control-allow-headers")).toContain("authorization")
    expect(preflight.headers.get("access-control-allow-credentials")).toBeNull()

    for (const origin of ["https://evil.example", "https://shop.example.evil.example", "null"]) {
      const other = await post(server, { "content-type": "application/json", origin })
      expect(other.headers.get("access-control-allow-origin")).toBeNull()
      const otherPreflight = await fetch(server.graphqlUrl, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST" }
      })
      expect(otherPreflight.headers.get("access-control-allow-origin")).toBeNull()
    }
  })
})
