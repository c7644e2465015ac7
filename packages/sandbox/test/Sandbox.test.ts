/**
 * The sandbox over raw HTTP (no client of ours in between): auth, the wire format, fulfilment,
 * expiring URLs, and its fault controls.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, ManagedRuntime, Redacted } from "effect"
import * as Sandbox from "../src/Sandbox.js"
import { SandboxState } from "../src/SandboxState.js"
import type { SandboxOptions } from "../src/SandboxConfig.js"

const token = "sandbox-suite-token"
const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" }

const start = async (options: Partial<SandboxOptions> = {}) => {
  const runtime = ManagedRuntime.make(Sandbox.layerTest({ accessTokens: [Redacted.make(token)], ...options }))
  const { url } = await runtime.runPromise(Sandbox.SandboxServer)
  const state = await runtime.runPromise(SandboxState)
  return { url, state, runtime }
}
type Started = Awaited<ReturnType<typeof start>>

let orderNumber = 700_000 + Math.floor(Math.random() * 100_000)
const nextOrder = () => ++orderNumber

const post = (url: string, body: unknown, headers: Record<string, string> = auth) =>
  fetch(url, { method: "POST", headers, body: JSON.stringify(body) })

const buy = async (base: string, assetId = 4000, extra: Record<string, unknown> = {}) => {
  const v = await post(`${base}/purchase/validate-purchase-before-payment`, {
    asset_id: assetId,
    customer_ip: "192.0.2.7",
    quantity: 1
  })
  expect(v.status).toBe(200)
  const { token: validation } = (await v.json()) as { token: string }
  const order = nextOrder()
  const r = await post(`${base}/purchase/register`, {
    token: validation,
    order_number: order,
    order_line_id: 1,
    unit_price: 3.99,
    line_item_price: 3.99,
    customer: "John Customer",
    ...extra
  })
  expect(r.status).toBe(201)
  expect(await r.text()).toBe("")
  return order
}

describe("sandbox over HTTP", () => {
  let s: Started
  beforeAll(async () => {
    s = await start({ fulfilmentDelay: Duration.hours(1), fulfilmentPolls: 2, urlTtl: Duration.seconds(3) })
  })
  afterAll(() => s.runtime.dispose())

  it("needs a bearer token everywhere but /health, and says which environment it is", async () => {
    const health = await fetch(`${s.url}/health`)
    expect(health.status).toBe(200)
    expect(health.headers.get("x-environment")).toBe("sandbox")
    expect(await health.json()).toEqual([
      { name: "api", health: true },
      { name: "dam", health: true }
    ])
    const missing = await fetch(`${s.url}/purchase/info?order_id=1`)
    expect(missing.status).toBe(401)
    expect(await missing.json()).toMatchObject({ name: "Unauthorized", status: 401 })
    const wrong = await fetch(`${s.url}/assets/list`, { headers: { authorization: "Bearer nope" } })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get("x-environment")).toBeNull()
    // The one bearer rule of every app: scheme case-insensitive, blanks tolerated.
    expect((await fetch(`${s.url}/assets/list`, { headers: { authorization: `bearer  ${token} ` } })).status).toBe(200)
    expect((await fetch(`${s.url}/assets/list`, { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401)
  })

  it("answers 400 with a message for a malformed payload", async () => {
    const res = await post(`${s.url}/purchase/validate-purchase-before-payment`, { asset_id: "x" })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { message: string }).message).toMatch(/asset_id|customer_ip/)
  })

  it("keeps a registered order PROCESSING (202) until it is polled enough, then 200 with URLs", async () => {
    const order = await buy(s.url)
    const first = await fetch(`${s.url}/purchase/info?order_id=${order}`, { headers: auth })
    expect(first.status).toBe(202)
    expect(await first.json()).toEqual({ status: "PROCESSING" })
    const second = await fetch(`${s.url}/purchase/info?order_id=${order}`, { headers: auth })
    expect(second.status).toBe(200)
    const [item] = (await second.json()) as Array<Record<string, unknown>>
    expect(item).toMatchObject({
      order_id: order,
      order_line_id: 1,
      asset_id: 4000,
      status: "COMPLETED",
      country_code: "US"
    })
    expect(String(item?.download_url)).toMatch(/\/nf\/download\/[0-9a-f]{32}$/)
  })

  it("hands out download URLs that work, then expire (410)", async () => {
    const order = await buy(s.url)
    await s.runtime.runPromise(s.state.settleLine(order, 1, "COMPLETED"))
    const res = await fetch(`${s.url}/purchase/download-url?order_id=${order}&order_line_id=1`, { headers: auth })
    const { url } = (await res.json()) as { url: string }
    const other = await fetch(`${s.url}/purchase/download-url?order_id=${order}&order_line_id=1`, { headers: auth })
    expect(((await other.json()) as { url: string }).url).not.toBe(url)
    expect((await fetch(url)).status).toBe(200)
    // Wall-clock expiry: poll past the TTL rather than guess a sleep (CI machines are busy).
    const deadline = Date.now() + 15_000
    let status = 200
    while (status === 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      status = (await fetch(url)).status
    }
    expect(status).toBe(410)
    expect((await fetch(`${s.url}/nf/download/${"0".repeat(32)}`)).status).toBe(404)
  })

  it("registers ensemble parts as lines of their own, and refuses a repeated line (409)", async () => {
    const order = await buy(s.url, 4003, {
      unit_price: 12.5,
      line_item_price: 12.5,
      parts: [
        { asset_id: 4004, order_line_id: 2 },
        { asset_id: 4005, order_line_id: 3 }
      ]
    })
    for (const line of [1, 2, 3]) await s.runtime.runPromise(s.state.settleLine(order, line, "COMPLETED"))
    const info = await fetch(`${s.url}/purchase/info?order_id=${order}`, { headers: auth })
    const items = (await info.json()) as Array<{ order_line_id: number; asset_id: number }>
    expect(items.map((i) => [i.order_line_id, i.asset_id])).toEqual([
      [1, 4003],
      [2, 4004],
      [3, 4005]
    ])
    const v = await post(`${s.url}/purchase/validate-purchase-before-payment`, {
      asset_id: 4005,
      customer_ip: "192.0.2.7",
      quantity: 1
    })
    const { token: validation } = (await v.json()) as { token: string }
    const again = await post(`${s.url}/purchase/register`, {
      token: validation,
      order_number: order,
      order_line_id: 3,
      unit_price: 1,
      line_item_price: 1,
      customer: "John Customer"
    })
    expect(again.status).toBe(409)
    expect(await again.json()).toMatchObject({ name: "OrderAlreadyExists", status: 409 })
  })

  it("lets faults be set and scripted over HTTP, validating what it is sent", async () => {
    const bad = await fetch(`${s.url}/_sandbox/faults`, {
      method: "PUT",
      headers: auth,
      body: JSON.stringify({ error_rate: 2 })
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { message: string }).message).toContain("error_rate")
    const script = await fetch(`${s.url}/_sandbox/faults/script`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify([
        { kind: "teapot418", endpoint: "health", times: 2 },
        { kind: "html502", endpoint: "health" }
      ])
    })
    expect(script.status).toBe(204)
    expect((await fetch(`${s.url}/health`)).status).toBe(418)
    expect((await fetch(`${s.url}/health`)).status).toBe(418)
    const html = await fetch(`${s.url}/health`)
    expect(html.status).toBe(502)
    expect(await html.text()).toContain("502 Bad Gateway")
    expect((await fetch(`${s.url}/health`)).status).toBe(200)
    const stats = (await (await fetch(`${s.url}/_sandbox/stats`, { headers: auth })).json()) as {
      faults: Record<string, number>
    }
    expect(stats.faults).toMatchObject({ teapot418: 2, html502: 1 })
    const set = await fetch(`${s.url}/_sandbox/faults`, {
      method: "PUT",
      headers: auth,
      body: JSON.stringify({ error_rate: 1, endpoints: ["health"] })
    })
    expect(set.status).toBe(204)
    const failing = await fetch(`${s.url}/health`)
    expect(failing.status).toBe(500)
    expect(await failing.json()).toMatchObject({ status: 500 })
    expect((await fetch(`${s.url}/_sandbox/faults`, { headers: { authorization: auth.authorization } })).status).toBe(
      200
    )
    // Reset takes no body: the token is enough.
    expect(
      (await fetch(`${s.url}/_sandbox/reset`, { method: "POST", headers: { authorization: auth.authorization } }))
        .status
    ).toBe(204)
    expect((await fetch(`${s.url}/health`)).status).toBe(200)
  })

  it("its controls need the token (401) and JSON (415): a cross-site form or text/plain post changes nothing", async () => {
    const errorRate = async () => (await s.runtime.runPromise(s.state.getFaults)).error_rate
    const script = JSON.stringify([{ kind: "teapot418", endpoint: "health" }])
    const faults = JSON.stringify({ error_rate: 1 })
    const json = { "content-type": "application/json" }
    const text = { authorization: auth.authorization, "content-type": "text/plain" }
    const form = { authorization: auth.authorization, "content-type": "application/x-www-form-urlencoded" }
    const cases: ReadonlyArray<readonly [string, string, Record<string, string>, string | undefined, number]> = [
      ["PUT", "/_sandbox/faults", json, faults, 401],
      ["PUT", "/_sandbox/faults", { ...json, authorization: "Bearer wrong" }, faults, 401],
      ["PUT", "/_sandbox/faults", { "content-type": "text/plain" }, faults, 401],
      ["PUT", "/_sandbox/faults", text, faults, 415],
      ["PUT", "/_sandbox/faults", { authorization: auth.authorization }, faults, 415],
      ["POST", "/_sandbox/faults/script", json, script, 401],
      ["POST", "/_sandbox/faults/script", { "content-type": "text/plain" }, script, 401],
      ["POST", "/_sandbox/faults/script", text, script, 415],
      ["POST", "/_sandbox/faults/script", form, script, 415],
      ["POST", "/_sandbox/reset", {}, undefined, 401],
      ["POST", "/_sandbox/reset", json, "{}", 401],
      ["POST", "/_sandbox/reset", form, "a=b", 415],
      ["GET", "/_sandbox/faults", {}, undefined, 401]
    ]
    for (const [method, path, headers, body, status] of cases) {
      const r = await fetch(`${s.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
      expect(r.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(status)
      if (status === 401) expect(r.headers.get("www-authenticate")).toContain("Bearer")
      expect(((await r.json()) as { error: string }).error).toBe(
        status === 401 ? "Unauthorized" : "UnsupportedMediaType"
      )
    }
    expect(await errorRate()).toBe(0)
    expect((await fetch(`${s.url}/health`)).status).toBe(200)
    // The same requests with the token and JSON go through.
    expect(
      (
        await fetch(`${s.url}/_sandbox/faults`, {
          method: "PUT",
          headers: { ...auth, "content-type": "application/json; charset=utf-8" },
          body: faults
        })
      ).status
    ).toBe(204)
    expect(await errorRate()).toBe(1)
    expect((await fetch(`${s.url}/_sandbox/reset`, { method: "POST", headers: auth, body: "{}" })).status).toBe(204)
    expect(await errorRate()).toBe(0)
  })

  it("shows stats without the token as counts only: no order numbers, no line ids", async () => {
    const order = await buy(s.url)
    const open = await fetch(`${s.url}/_sandbox/stats`)
    expect(open.status).toBe(200)
    const counts = (await open.json()) as Record<string, unknown>
    expect(Object.keys(counts).sort()).toEqual([
      "abandoned",
      "faults",
      "registered_lines",
      "registrations_total",
      "requests",
      "responses"
    ])
    expect(counts.registered_lines).toBeGreaterThanOrEqual(1)
    expect(JSON.stringify(counts)).not.toContain(String(order))
    const full = (await (
      await fetch(`${s.url}/_sandbox/stats`, { headers: { authorization: auth.authorization } })
    ).json()) as {
      registrations: Record<string, number>
    }
    expect(full.registrations[`${order}:1`]).toBe(1)
    const wrong = (await (
      await fetch(`${s.url}/_sandbox/stats`, { headers: { authorization: "Bearer wrong" } })
    ).json()) as Record<string, unknown>
    expect(wrong.registrations).toBeUndefined()
  })

  it("counts a request its client gave up on before the answer as abandoned", async () => {
    await s.runtime.runPromise(s.state.resetFaultsAndStats)
    await s.runtime.runPromise(
      s.state.scriptFaults([
        {
          kind: "teapot418",
          endpoint: "health",
          times: 1,
          retry_after_seconds: 1,
          delay_ms: 600_000,
          status: 200,
          body: ""
        }
      ])
    )
    const stats = () => s.runtime.runPromise(s.state.stats)
    const client = new AbortController()
    const pending = fetch(`${s.url}/health`, { signal: client.signal })
    await expect.poll(async () => (await stats()).requests.health, { timeout: 10_000 }).toBe(1)
    expect((await stats()).abandoned).toEqual({})
    client.abort()
    await expect(pending).rejects.toThrow()
    await expect.poll(async () => (await stats()).abandoned, { timeout: 10_000 }).toEqual({ health: 1 })
    expect((await stats()).responses).toEqual({})
    // A request answered in full is not abandoned.
    expect((await fetch(`${s.url}/health`)).status).toBe(200)
    expect((await stats()).abandoned).toEqual({ health: 1 })
    await s.runtime.runPromise(s.state.resetFaultsAndStats)
  })

  it("resets the connection when told to (its own reset is not a client abandoning the request)", async () => {
    await s.runtime.runPromise(s.state.resetFaultsAndStats)
    await s.runtime.runPromise(
      s.state.scriptFaults([
        {
          kind: "resetBefore",
          endpoint: "health",
          times: 1,
          retry_after_seconds: 1,
          delay_ms: 0,
          status: 200,
          body: ""
        }
      ])
    )
    await expect(fetch(`${s.url}/health`)).rejects.toThrow()
    expect((await fetch(`${s.url}/health`)).status).toBe(200)
    expect((await s.runtime.runPromise(s.state.stats)).abandoned).toEqual({})
  })

  it("pages the catalog by keyset, with a next_page URL that works", async () => {
    const first = (await (await fetch(`${s.url}/assets/list?page_size=5`, { headers: auth })).json()) as {
      assets: Array<{ asset_id: number }>
      last_id: number
      next_page: string
    }
    expect(first.assets.map((a) => a.asset_id)).toEqual([4000, 4001, 4002, 4003, 4004])
    expect(first.last_id).toBe(4004)
    const second = (await (await fetch(first.next_page, { headers: auth })).json()) as {
      assets: Array<{ asset_id: number }>
    }
    expect(second.assets[0]?.asset_id).toBe(4005)
    const last = (await (await fetch(`${s.url}/assets/list?page_size=5&last_id=5195`, { headers: auth })).json()) as {
      assets: Array<unknown>
      next_page: string | null
    }
    expect(last.assets).toHaveLength(4)
    expect(last.next_page).toBeNull()
  })
})

describe("sandbox fault dice", () => {
  it("are seeded: the same seed gives the same faults", async () => {
    const sequence = async () => {
      const s = await start({ seed: 7 })
      await s.runtime.runPromise(
        s.state.setFaults({ ...(await s.runtime.runPromise(s.state.getFaults)), error_rate: 0.5 })
      )
      const statuses: Array<number> = []
      for (let i = 0; i < 20; i++) statuses.push((await fetch(`${s.url}/health`)).status)
      await s.runtime.dispose()
      return statuses
    }
    const a = await sequence()
    expect(a).toContain(500)
    expect(a).toContain(200)
    expect(await sequence()).toEqual(a)
  })
})
