/**
 * The admin API's exact answers on the wire: status, the headers that matter (content type,
 * `cache-control: no-store`, `www-authenticate`) and the body byte for byte, for the refusals
 * (no token, admin disabled, bad JSON, bad bodies, bad query parameters, unknown ids, unknown
 * routes) and a few successes. Written against the hand-built router, kept unchanged when the admin
 * became an HttpApi: the definition must not change what an operator's script sees.
 */
import { Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { adminToken, newSecret, type RunningRelay, startRelay, startReceiver } from "./support.js"

interface Answer {
  readonly status: number
  readonly contentType: string | null
  readonly cacheControl: string | null
  readonly wwwAuthenticate: string | null
  readonly body: string
}

const call = async (
  relay: RunningRelay,
  method: string,
  path: string,
  options: { readonly body?: string; readonly contentType?: string | null; readonly authorization?: string | null } = {}
): Promise<Answer> => {
  const headers: Record<string, string> = {}
  const authorization = options.authorization === undefined ? `Bearer ${adminToken}` : options.authorization
  if (authorization !== null) headers.authorization = authorization
  const contentType = options.contentType === undefined ? "application/json" : options.contentType
  if (contentType !== null) headers["content-type"] = contentType
  const res = await fetch(`${relay.url}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: options.body })
  })
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    cacheControl: res.headers.get("cache-control"),
    wwwAuthenticate: res.headers.get("www-authenticate"),
    body: await res.text()
  }
}

describe("admin API answers on the wire", () => {
  let relay: RunningRelay
  let disabled: RunningRelay
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  beforeAll(async () => {
    relay = await startRelay()
    disabled = await startRelay({ adminToken: Option.none() })
    receiver = await startReceiver()
  })
  afterAll(async () => {
    await relay?.close()
    await disabled?.close()
    await receiver?.close()
  })

  it("refuses a missing or wrong token with 401 and www-authenticate, before reading anything else", async () => {
    expect(await call(relay, "GET", "/admin/subscribers", { authorization: null })).toMatchInlineSnapshot(`
      {
        "body": "{"error":"unauthorized","message":"Authorization: Bearer <RELAY_ADMIN_TOKEN> required"}",
        "cacheControl": null,
        "contentType": "application/json",
        "status": 401,
        "wwwAuthenticate": "Bearer",
      }
    `)
    expect(
      await call(relay, "GET", "/admin/inbox?state=bogus", { authorization: "Bearer nope" })
    ).toMatchInlineSnapshot(`
      {
        "body": "{"error":"unauthorized","message":"Authorization: Bearer <RELAY_ADMIN_TOKEN> required"}",
        "cacheControl": null,
        "contentType": "application/json",
        "status": 401,
        "wwwAuthenticate": "Bearer",
      }
    `)
    expect(
      await call(relay, "POST", "/admin/subscribers", { authorization: "Basic x", body: "{not json" })
    ).toMatchInlineSnapshot(`
      {
        "body": "{"error":"unauthorized","message":"Authorization: Bearer <RELAY_ADMIN_TOKEN> required"}",
        "cacheControl": null,
        "contentType": "application/json",
        "status": 401,
        "wwwAuthenticate": "Bearer",
      }
    `)
  })

  it("answers 503 when RELAY_ADMIN_TOKEN is unset, token or not", async () => {
    expect(await call(disabled, "GET", "/admin/subscribers")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"admin_disabled","message":"the admin API is disabled: set RELAY_ADMIN_TOKEN"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 503,
        "wwwAuthenticate": null,
      }
    `)
    expect(
      await call(disabled, "POST", "/admin/inbox/dead/replay", { authorization: null, body: "{}" })
    ).toMatchInlineSnapshot(`
      {
        "body": "{"error":"admin_disabled","message":"the admin API is disabled: set RELAY_ADMIN_TOKEN"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 503,
        "wwwAuthenticate": null,
      }
    `)
  })

  it("bad JSON and bad bodies are 400 naming the problem", async () => {
    expect(await call(relay, "POST", "/admin/subscribers", { body: "{not json" })).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"Decode error (POST /admin/subscribers)"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "POST", "/admin/subscribers", { body: "" })).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(Struct (Encoded side) <-> Struct (Type side))\\n└─ Encoded side transformation failure\\n   └─ Expected Struct (Encoded side), actual null"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "POST", "/admin/subscribers", { body: "{}" })).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(Struct (Encoded side) <-> Struct (Type side))\\n└─ Encoded side transformation failure\\n   └─ Struct (Encoded side)\\n      └─ [\\"url\\"]\\n         └─ is missing"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(
      await call(relay, "POST", "/admin/subscribers", { body: JSON.stringify({ url: 5 }) })
    ).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(Struct (Encoded side) <-> Struct (Type side))\\n└─ Encoded side transformation failure\\n   └─ Struct (Encoded side)\\n      └─ [\\"url\\"]\\n         └─ Expected string, actual 5"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "POST", "/admin/subscribers/nope/disable", { body: "{}" })).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"{ readonly reason: string }\\n└─ [\\"reason\\"]\\n   └─ is missing"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(
      await call(relay, "POST", "/admin/subscribers/nope/rotate-secret", { body: "{not json" })
    ).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(parseJson <-> { readonly secret?: string | undefined; readonly overlap_seconds?: Int & between(0, 2592000) | undefined })\\n└─ Encoded side transformation failure\\n   └─ parseJson\\n      └─ Transformation process failure\\n         └─ Expected property name or '}' in JSON at position 1"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(
      await call(relay, "POST", "/admin/subscribers/nope/rotate-secret", {
        body: JSON.stringify({ overlap_seconds: -5 })
      })
    ).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(parseJson <-> { readonly secret?: string | undefined; readonly overlap_seconds?: Int & between(0, 2592000) | undefined })\\n└─ Type side transformation failure\\n   └─ { readonly secret?: string | undefined; readonly overlap_seconds?: Int & between(0, 2592000) | undefined }\\n      └─ [\\"overlap_seconds\\"]\\n         └─ Int & between(0, 2592000) | undefined\\n            ├─ Int & between(0, 2592000)\\n            │  └─ Predicate refinement failure\\n            │     └─ Expected a number between 0 and 2592000, actual -5\\n            └─ Expected undefined, actual -5"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(
      await call(relay, "POST", "/admin/inbox/dead/replay", { body: JSON.stringify({ since: "yesterday-ish" }) })
    ).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(Struct (Encoded side) <-> Struct (Type side))\\n└─ Encoded side transformation failure\\n   └─ Struct (Encoded side)\\n      └─ [\\"since\\"]\\n         └─ validDate\\n            └─ Predicate refinement failure\\n               └─ Expected a valid Date, actual Invalid Date"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(
      await call(relay, "POST", "/admin/inbox/dead/replay", {
        body: JSON.stringify({ since: new Date(0).toISOString(), limit: 2.5 })
      })
    ).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(Struct (Encoded side) <-> Struct (Type side))\\n└─ Encoded side transformation failure\\n   └─ Struct (Encoded side)\\n      └─ [\\"limit\\"]\\n         └─ Int & between(1, 1000) | undefined\\n            ├─ Int & between(1, 1000)\\n            │  └─ From side refinement failure\\n            │     └─ Int\\n            │        └─ Predicate refinement failure\\n            │           └─ Expected an integer, actual 2.5\\n            └─ Expected undefined, actual 2.5"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(
      await call(relay, "POST", "/admin/deliveries/dead/replay", { body: JSON.stringify({ limit: 1001 }) })
    ).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(parseJson <-> (Struct (Encoded side) <-> Struct (Type side)))\\n└─ Type side transformation failure\\n   └─ (Struct (Encoded side) <-> Struct (Type side))\\n      └─ Encoded side transformation failure\\n         └─ Struct (Encoded side)\\n            └─ [\\"limit\\"]\\n               └─ Int & between(1, 1000) | undefined\\n                  ├─ Int & between(1, 1000)\\n                  │  └─ Predicate refinement failure\\n                  │     └─ Expected a number between 1 and 1000, actual 1001\\n                  └─ Expected undefined, actual 1001"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "POST", "/admin/deliveries/dead/replay", { body: "[1" })).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(parseJson <-> (Struct (Encoded side) <-> Struct (Type side)))\\n└─ Encoded side transformation failure\\n   └─ parseJson\\n      └─ Transformation process failure\\n         └─ Expected ',' or ']' after array element in JSON at position 2"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(
      await call(relay, "POST", "/admin/deliveries/dead/replay", { body: JSON.stringify({ cursor: "nope" }) })
    ).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"cursor: malformed cursor (pass back a next_cursor unchanged)"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
  })

  it("bad query parameters are 400 naming the problem", async () => {
    expect(await call(relay, "GET", "/admin/inbox?state=bogus")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(Struct (Encoded side) <-> Struct (Type side))\\n└─ Encoded side transformation failure\\n   └─ Struct (Encoded side)\\n      └─ [\\"state\\"]\\n         └─ \\"pending\\" | \\"processed\\" | \\"dead\\"\\n            ├─ Expected \\"pending\\", actual \\"bogus\\"\\n            ├─ Expected \\"processed\\", actual \\"bogus\\"\\n            └─ Expected \\"dead\\", actual \\"bogus\\""}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "GET", "/admin/inbox")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(Struct (Encoded side) <-> Struct (Type side))\\n└─ Encoded side transformation failure\\n   └─ Struct (Encoded side)\\n      └─ [\\"state\\"]\\n         └─ is missing"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "GET", "/admin/inbox?state=dead&cursor=nope")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"cursor: malformed cursor (pass back a next_cursor unchanged)"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "GET", "/admin/deliveries?state=dead&since=soon")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(Struct (Encoded side) <-> Struct (Type side))\\n└─ Encoded side transformation failure\\n   └─ Struct (Encoded side)\\n      └─ [\\"since\\"]\\n         └─ validDate | undefined\\n            ├─ validDate\\n            │  └─ Predicate refinement failure\\n            │     └─ Expected a valid Date, actual Invalid Date\\n            └─ Expected undefined, actual \\"soon\\""}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "GET", "/admin/deliveries?state=dead&limit=501")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(Struct (Encoded side) <-> Struct (Type side))\\n└─ Encoded side transformation failure\\n   └─ Struct (Encoded side)\\n      └─ [\\"limit\\"]\\n         └─ int & between(1, 500) | undefined\\n            ├─ int & between(1, 500)\\n            │  └─ Predicate refinement failure\\n            │     └─ Expected a number between 1 and 500, actual 501\\n            └─ Expected undefined, actual \\"501\\""}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "GET", "/admin/inbox/dead?limit=0")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(Struct (Encoded side) <-> Struct (Type side))\\n└─ Encoded side transformation failure\\n   └─ Struct (Encoded side)\\n      └─ [\\"limit\\"]\\n         └─ int & between(1, 500) | undefined\\n            ├─ int & between(1, 500)\\n            │  └─ Predicate refinement failure\\n            │     └─ Expected a number between 1 and 500, actual 0\\n            └─ Expected undefined, actual \\"0\\""}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "GET", "/admin/deliveries/dead?limit=x")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"bad_request","message":"(Struct (Encoded side) <-> Struct (Type side))\\n└─ Encoded side transformation failure\\n   └─ Struct (Encoded side)\\n      └─ [\\"limit\\"]\\n         └─ int & between(1, 500) | undefined\\n            ├─ int & between(1, 500)\\n            │  └─ From side refinement failure\\n            │     └─ int\\n            │        └─ From side refinement failure\\n            │           └─ NumberFromString\\n            │              └─ Transformation process failure\\n            │                 └─ Unable to decode \\"x\\" into a number\\n            └─ Expected undefined, actual \\"x\\""}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 400,
        "wwwAuthenticate": null,
      }
    `)
  })

  it("unknown ids are 404, unknown routes too", async () => {
    expect(await call(relay, "GET", "/admin/subscribers/nope")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"not_found","message":"subscriber nope not found"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 404,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "POST", "/admin/subscribers/nope/enable")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"not_found","message":"subscriber nope not found"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 404,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "GET", "/admin/inbox/nope")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"not_found","message":"no such inbox event"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 404,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "POST", "/admin/inbox/nope/replay", { body: "{not json" })).toMatchInlineSnapshot(`
      {
        "body": "{"error":"not_found","message":"inbox event nope not found"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 404,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "GET", "/admin/deliveries/nope")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"not_found","message":"delivery nope not found"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 404,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "POST", "/admin/deliveries/nope/replay")).toMatchInlineSnapshot(`
      {
        "body": "{"error":"not_found","message":"delivery nope not found"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 404,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "GET", "/admin/nothing-here")).toMatchInlineSnapshot(`
      {
        "body": "",
        "cacheControl": null,
        "contentType": null,
        "status": 404,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "DELETE", "/admin/subscribers")).toMatchInlineSnapshot(`
      {
        "body": "",
        "cacheControl": null,
        "contentType": null,
        "status": 404,
        "wwwAuthenticate": null,
      }
    `)
  })

  it("successes are JSON with no-store, in the same field order; a body's content type is not looked at", async () => {
    expect(await call(relay, "GET", "/admin/orders/123/events")).toMatchInlineSnapshot(`
      {
        "body": "{"items":[]}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 200,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "GET", "/admin/inbox?state=dead")).toMatchInlineSnapshot(`
      {
        "body": "{"items":[],"next_cursor":null}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 200,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "GET", "/admin/deliveries/dead")).toMatchInlineSnapshot(`
      {
        "body": "{"items":[],"next_cursor":null}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 200,
        "wwwAuthenticate": null,
      }
    `)
    expect(await call(relay, "POST", "/admin/deliveries/dead/replay", { body: "" })).toMatchInlineSnapshot(`
      {
        "body": "{"replayed":0,"skipped":0,"next_cursor":null}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 200,
        "wwwAuthenticate": null,
      }
    `)
    const secret = newSecret()
    const created = await call(relay, "POST", "/admin/subscribers", {
      contentType: "text/plain",
      body: JSON.stringify({ url: receiver.url, events: ["test.wire"], secret })
    })
    expect(created.status).toBe(201)
    expect(created.cacheControl).toBe("no-store")
    const json: unknown = JSON.parse(created.body)
    expect(typeof json === "object" && json !== null ? Object.keys(json) : []).toMatchInlineSnapshot(`
      [
        "id",
        "url",
        "secret_hint",
        "secrets",
        "events",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "created_at",
        "failing_since",
        "last_failure_at",
        "disables_at",
        "failure_warning",
        "secret",
      ]
    `)
    const id = typeof json === "object" && json !== null && "id" in json ? String(json.id) : ""
    const bad = await call(relay, "POST", `/admin/subscribers/${id}/rotate-secret`, {
      body: JSON.stringify({ secret: "whsec_!!!" })
    })
    expect(bad).toMatchInlineSnapshot(`
      {
        "body": "{"error":"invalid_secret","message":"must be whsec_ followed by base64 (as Standard Webhooks libraries print it)"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 422,
        "wwwAuthenticate": null,
      }
    `)
    const off = await call(relay, "POST", `/admin/subscribers/${id}/disable`, {
      contentType: null,
      body: JSON.stringify({ reason: "test done" })
    })
    expect(off.status).toBe(200)
    const offJson: unknown = JSON.parse(off.body)
    expect(typeof offJson === "object" && offJson !== null ? Object.keys(offJson) : []).toMatchInlineSnapshot(`
      [
        "id",
        "url",
        "secret_hint",
        "secrets",
        "events",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "created_at",
        "failing_since",
        "last_failure_at",
        "disables_at",
        "failure_warning",
      ]
    `)
    const refused = await call(relay, "POST", "/admin/subscribers", {
      body: JSON.stringify({ url: "https://user:pw@example.com/x" })
    })
    expect(refused).toMatchInlineSnapshot(`
      {
        "body": "{"error":"credentials_in_url","message":"url must not carry credentials (user:password@): credentials in URLs are not accepted; deliveries are authenticated by the signing secret"}",
        "cacheControl": "no-store",
        "contentType": "application/json",
        "status": 422,
        "wwwAuthenticate": null,
      }
    `)
  })
})
