/** Pure parts: drift rules, API key checks, the GraphiQL page rewrite, configuration, body reading. */
import fc from "fast-check"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { loadSettings } from "../src/Config.js"
import { GraphqlLive } from "../src/Live.js"
import { lineDrift, remoteLineStatus } from "../src/Drift.js"
import * as GraphiqlAssets from "../src/GraphiqlAssets.js"
import { Completed, OrderItem, Processing } from "@hlconnect/core"
import { BearerAuth } from "@hlconnect/service"

describe("drift", () => {
  const line = (status: string | undefined) => ({ status, orderLevel: false })
  const order = (status: string | undefined) => ({ status, orderLevel: true })

  it("flags what the reconciler has not repaired", () => {
    expect(lineDrift("completed", line("COMPLETED")).drifted).toBe(false)
    expect(lineDrift("processing", line("COMPLETED"))).toMatchObject({ drifted: true, stateMismatch: true })
    expect(lineDrift("registered", line(undefined))).toMatchObject({ drifted: true, missingRemotely: true })
    expect(lineDrift("paid", line(undefined)).drifted).toBe(false)
    expect(lineDrift("needs_attention", line("COMPLETED"))).toMatchObject({
      drifted: true,
      needsAttention: true,
      stateMismatch: false
    })
    expect(lineDrift("cancel_requested", line("COMPLETED")).drifted).toBe(false)
    expect(lineDrift("completed", line("PROCESSING"))).toMatchObject({ drifted: true, stateMismatch: true })
  })

  it("shows no drift where the reconciler sees none: a line cancelled before it was registered is unknown to HL Connect", () => {
    expect(lineDrift("cancelled", line(undefined)).drifted).toBe(false)
    expect(lineDrift("cancelled", order(undefined)).drifted).toBe(false)
    expect(lineDrift("completed", line(undefined))).toMatchObject({ drifted: true, missingRemotely: true })
    expect(lineDrift("failed", order(undefined))).toMatchObject({ drifted: true, missingRemotely: true })
  })

  it("takes a whole-order PROCESSING as no word on lines that have ended (another line may be on its way)", () => {
    for (const state of ["completed", "failed", "cancelled"] as const)
      expect(lineDrift(state, order("PROCESSING")).drifted).toBe(false)
    expect(lineDrift("completed", order("FAILED"))).toMatchObject({ drifted: true, stateMismatch: true })
  })

  it("reads a line's remote status from each outcome", () => {
    const alone = (orderLineId: string) => ({ orderLineId, parts: Option.none() })
    const completed = Completed.make({ items: [OrderItem.make({ order_line_id: 2, status: "CANCELLED" })] })
    expect(remoteLineStatus(completed, alone("2"))).toEqual(line("CANCELLED"))
    expect(remoteLineStatus(completed, alone("3"))).toEqual(line(undefined))
    expect(remoteLineStatus(Processing.make({}), alone("1"))).toEqual(order("PROCESSING"))
    expect(remoteLineStatus({ _tag: "OrderNotFound", message: "no" }, alone("1"))).toEqual(order(undefined))
  })

  it("reads a line with ensemble parts as the reconciler does: one status for all its HL Connect lines", () => {
    const quartet = { orderLineId: "1", parts: Option.some([{ asset: "4004", orderLineId: "2" }]) }
    const answer = (...statuses: ReadonlyArray<string>) =>
      Completed.make({ items: statuses.map((status, i) => OrderItem.make({ order_line_id: i + 1, status })) })
    expect(remoteLineStatus(answer("COMPLETED", "COMPLETED"), quartet)).toEqual(line("COMPLETED"))
    expect(remoteLineStatus(answer("COMPLETED", "FAILED"), quartet)).toEqual(line("COMPLETED+FAILED"))
    expect(remoteLineStatus(answer("COMPLETED"), quartet)).toEqual(line(undefined))
    expect(lineDrift("completed", remoteLineStatus(answer("COMPLETED", "FAILED"), quartet))).toMatchObject({
      drifted: true,
      stateMismatch: true,
      description: "locally completed, but HL Connect reports COMPLETED+FAILED"
    })
  })
})

describe("API keys", () => {
  it("accepts exactly the configured keys, as bearer tokens", () => {
    const token = fc.stringMatching(/^[A-Za-z0-9._~+/=-]{1,64}$/)
    fc.assert(
      fc.property(fc.uniqueArray(token, { minLength: 1, maxLength: 4 }), token, (keys, other) => {
        const check = BearerAuth.make(keys.map((key) => Redacted.make(key)))
        for (const key of keys) expect(check.authorize(`Bearer ${key}`)).toBe(true)
        expect(check.authorize(`Bearer ${other}`)).toBe(keys.includes(other))
        expect(check.authorize(other)).toBe(false)
        expect(check.authorize(undefined)).toBe(false)
        expect(check.authorize("Bearer ")).toBe(false)
        for (const key of keys) expect(check.authorize(`bearer  ${key} `)).toBe(true)
      })
    )
  })
})

describe("GraphiQL page", () => {
  it("points at local assets, with no request leaving for a CDN", () => {
    const html = GraphiqlAssets.render(true)({ title: "t" })
    expect(html).toContain("/graphiql/assets/yoga-graphiql.umd.js")
    expect(html).toContain("/graphiql/assets/monacoeditorwork/editor.worker.bundle.js")
    expect(html).not.toMatch(/https?:\/\//)
    expect(GraphiqlAssets.render(false)({ title: "t" })).toContain("unpkg.com")
  })
})

describe("configuration", () => {
  const load = (env: Record<string, string>) =>
    Effect.runPromise(
      Effect.either(loadSettings.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))
    )

  it("needs API keys, and names every bad variable at once", async () => {
    const result = await load({ GRAPHQL_MAX_DEPTH: "0" })
    expect(result._tag).toBe("Left")
    const message = result._tag === "Left" ? result.left.message : ""
    expect(message).toContain("GRAPHQL_API_KEYS")
    expect(message).toContain("GRAPHQL_MAX_DEPTH")
  })

  it("the request body limit: 1 MiB by default, GRAPHQL_MAX_BODY_BYTES within 4096–25,000,000", async () => {
    const read = async (value?: string) => {
      const result = await load(
        value === undefined ? { GRAPHQL_API_KEYS: "k" } : { GRAPHQL_API_KEYS: "k", GRAPHQL_MAX_BODY_BYTES: value }
      )
      return result._tag === "Right" ? result.right.maxBodyBytes : result.left.problems
    }
    expect(await read()).toBe(1_048_576)
    expect(await read("65536")).toBe(65536)
    for (const bad of ["4095", "25000001", "1.5", "lots"])
      expect(String(await read(bad))).toMatch(/^GRAPHQL_MAX_BODY_BYTES: /)
  })

  it("the HL Connect budget: 200 calls per request, 50 per second per key in bursts of 200; every bad value named at once", async () => {
    const defaults = await load({ GRAPHQL_API_KEYS: "k" })
    expect(defaults._tag === "Right" ? defaults.right.upstream : undefined).toEqual({
      maxCallsPerRequest: 200,
      ratePerSecond: 50,
      burst: 200
    })
    const set = await load({
      GRAPHQL_API_KEYS: "k",
      GRAPHQL_MAX_UPSTREAM_CALLS: "20",
      GRAPHQL_UPSTREAM_RATE: "2.5",
      GRAPHQL_UPSTREAM_BURST: "10"
    })
    expect(set._tag === "Right" ? set.right.upstream : undefined).toEqual({
      maxCallsPerRequest: 20,
      ratePerSecond: 2.5,
      burst: 10
    })
    const bad = await load({
      GRAPHQL_API_KEYS: "k",
      GRAPHQL_MAX_UPSTREAM_CALLS: "0",
      GRAPHQL_UPSTREAM_RATE: "0",
      GRAPHQL_UPSTREAM_BURST: "many"
    })
    const message = bad._tag === "Left" ? bad.left.message : ""
    for (const name of ["GRAPHQL_MAX_UPSTREAM_CALLS", "GRAPHQL_UPSTREAM_RATE", "GRAPHQL_UPSTREAM_BURST"])
      expect(message).toContain(name)
  })

  it("CORS origins: none by default, a comma-separated allow-list of origins, anything else named", async () => {
    const origins = async (value?: string) => {
      const result = await load(
        value === undefined ? { GRAPHQL_API_KEYS: "k" } : { GRAPHQL_API_KEYS: "k", GRAPHQL_CORS_ORIGINS: value }
      )
      return result._tag === "Right" ? result.right.corsOrigins : String(result.left.problems)
    }
    expect(await origins()).toEqual([])
    expect(await origins("https://shop.example, http://localhost:3000")).toEqual([
      "https://shop.example",
      "http://localhost:3000"
    ])
    for (const bad of [
      "*",
      "https://shop.example/",
      "shop.example",
      "https://shop.example/path",
      "ftp://shop.example"
    ]) {
      expect(await origins(bad)).toMatch(/^GRAPHQL_CORS_ORIGINS: /)
    }
  })

  it("the app refuses to start on a bad DATABASE_URL, naming it", async () => {
    const env = {
      GRAPHQL_API_KEYS: "k",
      HLCONNECT_TOKEN: "t",
      DATABASE_URL: "mysql://user:secret@db/app",
      GRAPHQL_MAX_BODY_BYTES: "1"
    }
    const started = await Effect.runPromise(
      Layer.build(GraphqlLive).pipe(
        Effect.scoped,
        Effect.either,
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
      )
    )
    expect(started._tag === "Left" ? started.left : started).toMatchObject({
      _tag: "InvalidConfiguration",
      problems: [
        "GRAPHQL_MAX_BODY_BYTES: must be between 4096 and 25000000",
        "DATABASE_URL: must be a postgres:// or postgresql:// URL (unset it to use the embedded SQLite store)"
      ]
    })
    expect(started._tag === "Left" ? started.left.message : "").not.toMatch(/<root>|secret/)
  })

  it("development conveniences default on, and off in production", async () => {
    const dev = await load({ GRAPHQL_API_KEYS: "key-one,key-two" })
    expect(
      dev._tag === "Right"
        ? [dev.right.introspection, dev.right.graphiql, dev.right.apiKeys.length, dev.right.limits]
        : dev
    ).toEqual([true, true, 2, { maxDepth: 8, maxAliases: 15, maxCost: 5000, maxTokens: 2000 }])
    const prod = await load({ GRAPHQL_API_KEYS: "a", NODE_ENV: "production", GRAPHIQL: "true" })
    expect(
      prod._tag === "Right" ? [prod.right.production, prod.right.introspection, prod.right.graphiql] : prod
    ).toEqual([true, false, true])
    // Keys never print.
    expect(dev._tag === "Right" ? String(dev.right.apiKeys) : "").toBe("<redacted>,<redacted>")
  })
})
