/**
 * Generated bad requests (fast-check) for the relay's `POST /webhooks/commerce` and GraphQL's
 * `POST /graphql`, each with the answer it must get: the status, and what the body must say.
 *
 * Relay: malformed JSON, non-events, unknown event types, wrong types and values (with unknown
 * fields added), bodies over the limit (declared or chunked), forged signatures, replayed
 * signatures over altered bodies, stale and future timestamps, bad `webhook-id`s, non-UTF-8,
 * ill-formed text (lone surrogates, NUL and other controls, C1, line breaks, in NFD spellings too).
 * Relay admin (`POST /admin/subscribers`, SSRF guard on): subscriber URLs on IPv6 forms that carry a
 * loopback or private IPv4 address (NAT64 well-known and local-use, SIIT, mapped, compatible,
 * 6to4) or Teredo, URLs with credentials, URLs with control characters or whitespace.
 * GraphQL: missing or wrong API keys, malformed JSON, wrong request shapes, syntax errors,
 * unknown fields and input fields, wrong argument and variable types, out-of-range arguments,
 * the upstream amplification query, form and text bodies, depth and alias bombs, mutations over
 * GET, bodies over 25 MB (over any GRAPHQL_MAX_BODY_BYTES), `registerPurchase` with ill-formed
 * text (answered `InvalidInput`), and a known purchase re-sent with its customer spelled NFD
 * (answered `AlreadyRegistered`: one customer, nothing sent again).
 */
import { Option, Schema } from "effect"
import fc, { type JsonValue } from "fast-check"
import { randomBytes } from "node:crypto"
import type { Signer } from "./Purchases.js"

export type Target = "relay" | "graphql"

export interface Expectation {
  readonly status: ReadonlyArray<number>
  /** The relay's `error` code (relay answers only). */
  readonly code?: string
  /** GraphQL answers in `data` (a mutation's union member): the mutation field and the member's `__typename`. */
  readonly answer?: { readonly field: string; readonly typename: string }
  /** What the message must say (for an `answer`: what the member's JSON must say). */
  readonly says: RegExp
  /**
   * GraphQL only: the answer may be a success (`data`, no `errors`); any error it has must say
   * `says`. Without it, the answer must have errors and one of them must say `says`.
   */
  readonly mayAnswer?: true
}

export interface BadRequest {
  readonly category: string
  readonly target: Target
  readonly method: "POST" | "GET"
  /** Path and query. */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | Buffer | undefined
  readonly chunked: boolean
  readonly expect: Expectation
}

/** An accepted event, replayed with its original headers or re-signed. */
export interface Accepted {
  readonly id: string
  readonly body: string
  readonly headers: Readonly<Record<string, string>>
}

export interface Context {
  /** Signs with the relay's secret. */
  readonly sign: Signer
  /** Signs with a secret the relay does not know. */
  readonly forge: Signer
  readonly graphqlKey: string
  /** The relay's RELAY_ADMIN_TOKEN. */
  readonly adminToken: string
  readonly toleranceSeconds: number
  readonly relayLimit: number
  readonly accepted: ReadonlyArray<Accepted>
  /** Orders the store holds (from the accepted events), for queries that must find them. */
  readonly storedOrders: ReadonlyArray<string>
}

type Json = JsonValue

const isObject = (v: Json): v is { [k: string]: Json } => typeof v === "object" && v !== null && !Array.isArray(v)
const isArray = (v: Json): v is Array<Json> => Array.isArray(v)

/** `value` with `path` set to `to` (objects and arrays copied on the way down). */
const setPath = (value: Json, path: ReadonlyArray<string | number>, to: Json): Json => {
  const [head, ...rest] = path
  if (head === undefined) return to
  if (typeof head === "number" && isArray(value)) {
    const copy = [...value]
    copy[head] = setPath(copy[head] ?? null, rest, to)
    return copy
  }
  if (typeof head === "string" && isObject(value)) return { ...value, [head]: setPath(value[head] ?? null, rest, to) }
  return value
}

const goodLine: Json = {
  order_line_id: 1,
  asset_id: 4000,
  quantity: 2,
  unit_price: "3.99",
  line_price: "7.98",
  validation_token: "chaos-not-a-real-token",
  token_expires_at: 4_102_444_800
}

const goodEvent = (orderNumber: number): Json => ({
  type: "order.paid",
  data: {
    order_number: orderNumber,
    customer: { name: "Chaos Input", email: "input@example.com" },
    currency: "USD",
    lines: [goodLine]
  }
})

const orderNumber = fc.integer({ min: 90_000_000, max: 99_999_999 })
const webhookId = fc.stringMatching(/^bad-[a-z0-9]{6,20}$/)
const unknownKey = fc.stringMatching(/^zz[a-z]{1,10}$/)
const extras = fc.dictionary(unknownKey, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 })

/** One field made wrong: where, with what, and the word the message must name. */
const wrongFields: ReadonlyArray<readonly [ReadonlyArray<string | number>, Array<Json>, RegExp]> = [
  [["data", "order_number"], [-1, 0, "abc", 1.5, null, {}, [], true, "12a", 1e20], /order_number/],
  [["data", "customer"], [null, "someone", 5, []], /customer/],
  [["data", "customer", "email"], ["", "no-at-sign", 5, null, "a b@c"], /email/],
  [["data", "customer", "name"], ["", 5, null, "x".repeat(600)], /name/],
  [["data", "currency"], ["usd", "US", 5, "DOLLARS", null], /currency/],
  [
    ["data", "lines"],
    [
      [],
      "x",
      null,
      {},
      Array.from({ length: 101 }, (_, i) => ({ ...(isObject(goodLine) ? goodLine : {}), order_line_id: i + 1 }))
    ],
    /lines/
  ],
  [["data", "lines", 0, "quantity"], [0, -1, 1.5, "2", null, 100_001], /quantity/],
  [["data", "lines", 0, "unit_price"], ["3.999", -1, "abc", null, "1e3", "3,99"], /unit_price/],
  [["data", "lines", 0, "line_price"], ["0.01", "abc", -5, null], /line_price/],
  [["data", "lines", 0, "validation_token"], ["", 5, null, "t".repeat(5000)], /validation_token/],
  [["data", "lines", 0, "asset_id"], [0, -3, "x", 1.2, null], /asset_id/],
  [["data", "lines", 0, "order_line_id"], [0, "a", null, -7], /order_line_id/],
  [
    ["data", "lines", 0, "parts"],
    [
      "x",
      [{ asset_id: "x", order_line_id: 2 }],
      Array.from({ length: 65 }, (_, i) => ({ asset_id: 4004, order_line_id: i + 2 }))
    ],
    /parts/
  ],
  [["data", "lines", 0, "token_expires_at"], [-1, "soon", 1.5], /token_expires_at/],
  [["data", "lines", 1], [goodLine], /order_line_id|lines/],
  [["data"], [null, "x", [], 5], /data/],
  [["type"], [5, null, true], /type/]
]

// ---------------------------------------------------------------------------
// Relay
// ---------------------------------------------------------------------------

const relayPath = "/webhooks/commerce"

const relay = (
  category: string,
  headers: Readonly<Record<string, string>>,
  body: string | Buffer,
  expect: Expectation,
  chunked = false
): BadRequest => ({ category, target: "relay", method: "POST", path: relayPath, headers, body, chunked, expect })

const malformedJson = (ctx: Context) =>
  fc
    .tuple(
      webhookId,
      orderNumber,
      fc.nat(),
      fc.constantFrom("truncated", "garbage", "trailing"),
      fc.string({ maxLength: 20 })
    )
    .map(([id, n, cut, how, junk]) => {
      const valid = JSON.stringify(goodEvent(n))
      const body =
        how === "truncated"
          ? valid.slice(0, 1 + (cut % (valid.length - 1)))
          : how === "garbage"
            ? `{${junk}:::`
            : `${valid}}${junk}`
      return relay("relay: malformed JSON", ctx.sign(id, body), body, {
        status: [400],
        code: "malformed_body",
        says: /not JSON/
      })
    })

const notAnEvent = (ctx: Context) =>
  fc
    .tuple(
      webhookId,
      fc
        .jsonValue({ maxDepth: 2 })
        .filter((v) => !(typeof v === "object" && v !== null && !Array.isArray(v) && "type" in v))
    )
    .map(([id, value]) => {
      const body = JSON.stringify(value)
      return relay("relay: JSON that is no event", ctx.sign(id, body), body, {
        status: [400],
        code: "malformed_body",
        says: /JSON object with type and data/
      })
    })

const unknownType = (ctx: Context) =>
  fc
    .tuple(
      webhookId,
      fc.string({ maxLength: 30 }).filter((t) => !t.startsWith("order."))
    )
    .map(([id, type]) => {
      const body = JSON.stringify({ type, data: {} })
      return relay("relay: unknown event type", ctx.sign(id, body), body, {
        status: [422],
        code: "invalid_event",
        says: /unknown event type/
      })
    })

const wrongTypes = (ctx: Context) =>
  fc
    .tuple(webhookId, orderNumber, fc.nat({ max: wrongFields.length - 1 }), fc.nat(), extras)
    .map(([id, n, which, pick, more]) => {
      const [path, values, says] = wrongFields[which] ?? wrongFields[0] ?? [[], [], /./]
      const to = values[pick % Math.max(1, values.length)] ?? null
      const event = setPath(goodEvent(n), path, to)
      // Unknown fields beside the wrong one: ignored, the wrong one still named.
      const data = isObject(event) ? (event.data ?? null) : null
      const body = JSON.stringify(isObject(data) ? setPath(event, ["data"], { ...more, ...data }) : event)
      return relay("relay: wrong types and values (+ unknown fields)", ctx.sign(id, body), body, {
        status: [422],
        code: "invalid_event",
        says: path[0] === "type" ? /unknown event type/ : says
      })
    })

const refundsWrong = (ctx: Context) =>
  fc
    .tuple(
      webhookId,
      orderNumber,
      fc.constantFrom<Array<Json>>([], [0], ["x"], [1, 1]),
      fc.constantFrom("order.refunded", "order.line_cancelled")
    )
    .map(([id, n, ids, type]) => {
      const body = JSON.stringify({ type, data: { order_number: n, order_line_ids: ids } })
      return relay("relay: wrong types and values (+ unknown fields)", ctx.sign(id, body), body, {
        status: [422],
        code: "invalid_event",
        says: /order_line_ids/
      })
    })

/** One padding buffer reused for every huge body. */
const padding = Buffer.alloc(3 * 1024 * 1024, "a")

const hugeRelay = (ctx: Context) =>
  fc
    .tuple(webhookId, fc.integer({ min: 1, max: 1024 * 1024 }), fc.boolean(), fc.boolean())
    .map(([id, over, chunked, signed]) => {
      const body = padding.subarray(0, ctx.relayLimit + over)
      const headers = signed ? ctx.sign(id, body) : { "content-type": "application/json" }
      const category = `relay: body over ${ctx.relayLimit} bytes (${chunked ? "chunked" : "content-length"})`
      return relay(category, headers, body, { status: [413], code: "payload_too_large", says: /exceeds/ }, chunked)
    })

const forged = (ctx: Context) =>
  fc
    .tuple(
      webhookId,
      orderNumber,
      fc.constantFrom(
        "other secret",
        "random signature",
        "other body",
        "no id",
        "no timestamp",
        "no signature",
        "v2 only",
        "not seconds"
      ),
      fc.uint8Array({ minLength: 32, maxLength: 32 })
    )
    .map(([id, n, how, bytes]) => {
      const random = Buffer.from(bytes).toString("base64")
      const body = JSON.stringify(goodEvent(n))
      const good = ctx.sign(id, body)
      const without = (name: string) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== name))
      const headers: Record<string, string> =
        how === "other secret"
          ? ctx.forge(id, body)
          : how === "random signature"
            ? { ...good, "webhook-signature": `v1,${random}` }
            : how === "other body"
              ? ctx.sign(id, `${body} `)
              : how === "no id"
                ? without("webhook-id")
                : how === "no timestamp"
                  ? without("webhook-timestamp")
                  : how === "no signature"
                    ? without("webhook-signature")
                    : how === "v2 only"
                      ? { ...good, "webhook-signature": `v2,${random}` }
                      : { ...good, "webhook-timestamp": "soon" }
      const says = how.startsWith("no ")
        ? /missing/
        : how === "v2 only"
          ? /no v1 signature/
          : how === "not seconds"
            ? /whole seconds/
            : /no signature .*matches/
      return relay("relay: forged signature", headers, body, { status: [401], code: "invalid_signature", says })
    })

const replayedSignature = (ctx: Context) =>
  fc.tuple(fc.nat(), fc.constantFrom("order number", "quantity", "whitespace", "token")).map(([i, how]) => {
    const original = ctx.accepted[i % ctx.accepted.length] ?? { id: "none", body: "{}", headers: {} }
    const body =
      how === "order number"
        ? original.body.replace(/"order_number":"?(\d+)/, (_m, d: string) => `"order_number":"${Number(d) + 1}`)
        : how === "quantity"
          ? original.body.replace(/"quantity":(\d+)/, (_m, d: string) => `"quantity":${Number(d) + 1}`)
          : how === "whitespace"
            ? `${original.body}\n`
            : original.body.replace(/"validation_token":"/, '"validation_token":"x')
    // The captured headers, verbatim: a replay of a signature seen on the wire.
    return relay("relay: replayed signature, altered body", original.headers, body, {
      status: [401],
      says: /no signature .*matches|in the past/
    })
  })

const resentAltered = (ctx: Context) =>
  fc.nat().map((i) => {
    const original = ctx.accepted[i % ctx.accepted.length] ?? { id: "none", body: "{}", headers: {} }
    const body = original.body.replace(/"name":"[^"]*"/, '"name":"Someone Else"')
    // Signed anew by the real sender: the id decides (Standard Webhooks idempotency), the original stays.
    return relay(
      "relay: known id re-signed with another body (→ 200 duplicate, original kept)",
      ctx.sign(original.id, body),
      body,
      {
        status: [200],
        says: /duplicate/
      }
    )
  })

// Requests are generated (and signed) before they are sent, possibly minutes earlier on a loaded
// machine: a "future" stamp only 5 s beyond the tolerance drifted inside it before it arrived
// (seen under load: 202 instead of 401). Five minutes of margin keeps every case out of tolerance.
const staleTimestamp = (ctx: Context) =>
  fc
    .tuple(webhookId, orderNumber, fc.integer({ min: ctx.toleranceSeconds + 300, max: 7 * 24 * 3600 }), fc.boolean())
    .map(([id, n, skew, past]) => {
      const body = JSON.stringify(goodEvent(n))
      const at = new Date(Date.now() + (past ? -skew : skew) * 1000)
      return relay("relay: stale or future timestamp", ctx.sign(id, body, at), body, {
        status: [401],
        code: "stale_timestamp",
        says: past ? /in the past/ : /in the future/
      })
    })

const badIds = (ctx: Context) =>
  fc
    .tuple(
      fc.oneof(
        fc.stringMatching(/^[-_.][a-z0-9]{1,10}$/),
        fc.stringMatching(/^[a-z]{1,5}[!$%&*+,;=?[\]^`{|}~]{1,3}[a-z]{0,5}$/),
        fc.constant("x".repeat(129)),
        fc.constant("../../etc/passwd")
      ),
      orderNumber
    )
    .map(([id, n]) => {
      const body = JSON.stringify(goodEvent(n))
      return relay("relay: malformed webhook-id", ctx.sign(id, body), body, {
        status: [400],
        code: "invalid_webhook_id",
        says: /webhook-id/
      })
    })

const notUtf8 = (ctx: Context) =>
  fc.tuple(webhookId, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([id, bytes]) => {
    const body = Buffer.concat([
      Buffer.from('{"type":"order.paid","data":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(bytes),
      Buffer.from('"}')
    ])
    return relay("relay: body not UTF-8", ctx.sign(id, body), body, {
      status: [400],
      code: "malformed_body",
      says: /UTF-8/
    })
  })

/** One character no store or printer should keep: lone surrogates (high, low), NUL and other C0, DEL, C1, line breaks. */
const illFormedChar = fc.constantFrom(
  "\ud83c",
  "\udf3b",
  "\u0000",
  "\u001b",
  "\t",
  "\n",
  "\u007f",
  "\u0085",
  "\u009b",
  "\u2028",
  "\u2029"
)
/** Text around it, in NFC and NFD spellings. */
const textAround = fc.constantFrom("", "Ann", "Zo\u00eb", "Zoe\u0308", "Chaos ")

/** A name, an email address or a token with one ill-formed character in it. */
const illFormedText = (kind: "name" | "email" | "token") =>
  fc
    .tuple(textAround, illFormedChar, textAround)
    .map(([before, bad, after]) =>
      kind === "name"
        ? `${before}${bad}${after}`
        : kind === "email"
          ? `${before}${bad}${after}x@example.com`
          : `tok${before}${bad}${after}en`
    )

const illFormed =
  /contains (a lone surrogate|the control character U\+[0-9A-F]{4}|the line break U\+[0-9A-F]{4}) at index \d+/

const relayIllFormedText = (ctx: Context) =>
  fc
    .tuple(
      webhookId,
      orderNumber,
      fc.constantFrom("name", "email", "token") as fc.Arbitrary<"name" | "email" | "token">
    )
    .chain(([id, n, kind]) => illFormedText(kind).map((text) => [id, n, kind, text] as const))
    .map(([id, n, kind, text]) => {
      const path = kind === "token" ? ["data", "lines", 0, "validation_token"] : ["data", "customer", kind]
      const body = JSON.stringify(setPath(goodEvent(n), path, text))
      const field = kind === "token" ? "validation_token" : `customer.${kind}`
      return relay(
        "relay: ill-formed text (lone surrogates, NUL, C0/C1 controls, line breaks)",
        ctx.sign(id, body),
        body,
        {
          status: [422],
          code: "invalid_event",
          says: new RegExp(`${field.replace(".", "\\.")}: ${illFormed.source}`)
        }
      )
    })

// ---------------------------------------------------------------------------
// Relay admin: subscriber URLs
// ---------------------------------------------------------------------------

const subscriber = (ctx: Context, category: string, url: string, expect: Expectation): BadRequest => ({
  category,
  target: "relay",
  method: "POST",
  path: "/admin/subscribers",
  headers: { authorization: `Bearer ${ctx.adminToken}`, "content-type": "application/json" },
  body: JSON.stringify({ url, events: ["order.*"] }),
  chunked: false,
  expect
})

type IPv4 = readonly [number, number, number, number]

/** IPv4 addresses the guard refuses, and the word its message must say. */
const privateIPv4: ReadonlyArray<readonly [IPv4, RegExp]> = [
  [[127, 0, 0, 1], /loopback/],
  [[127, 8, 9, 10], /loopback/],
  [[10, 1, 2, 3], /private/],
  [[192, 168, 0, 10], /private/],
  [[172, 16, 5, 5], /private/],
  [[169, 254, 169, 254], /metadata/],
  [[100, 64, 0, 1], /carrier-grade NAT/],
  [[0, 0, 0, 0], /unspecified/]
]

const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16)

/** An IPv6 form carrying the IPv4 address `v4`. */
const embedding = (form: string, [a, b, c, d]: IPv4) => {
  switch (form) {
    case "NAT64 64:ff9b::/96":
      return `64:ff9b::${hex(a, b)}:${hex(c, d)}`
    case "NAT64 local use 64:ff9b:1::/48":
      return `64:ff9b:1::${hex(a, b)}:${hex(c, d)}`
    case "SIIT ::ffff:0:0:0/96":
      return `::ffff:0:${hex(a, b)}:${hex(c, d)}`
    case "IPv4-mapped":
      return `::ffff:${a}.${b}.${c}.${d}`
    default:
      return `2002:${hex(a, b)}:${hex(c, d)}::1`
  }
}

const embeddedPrivate = (ctx: Context) =>
  fc
    .tuple(
      fc.constantFrom(
        "NAT64 64:ff9b::/96",
        "NAT64 local use 64:ff9b:1::/48",
        "SIIT ::ffff:0:0:0/96",
        "IPv4-mapped",
        "6to4 2002::/16"
      ),
      fc.constantFrom(...privateIPv4),
      fc.webPath()
    )
    .map(([form, [v4, says], path]) =>
      subscriber(
        ctx,
        "relay admin: subscriber URL on IPv6 carrying a private IPv4 (NAT64, SIIT, mapped, 6to4)",
        `https://[${embedding(form, v4)}]${path}`,
        {
          status: [422],
          code: "private_address",
          says
        }
      )
    )

const teredo = (ctx: Context) =>
  fc
    .tuple(
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.webPath()
    )
    .map(([x, y, z, path]) =>
      subscriber(
        ctx,
        "relay admin: Teredo subscriber URL (2001::/32)",
        `https://[2001:0:${x.toString(16)}:${y.toString(16)}::${z.toString(16)}]${path}`,
        {
          status: [422],
          code: "private_address",
          says: /Teredo/
        }
      )
    )

const credentials = (ctx: Context) =>
  fc
    .tuple(
      fc.stringMatching(/^[a-z]{1,8}$/),
      fc.option(fc.stringMatching(/^[A-Za-z0-9]{1,12}$/), { nil: undefined }),
      fc.domain(),
      fc.webPath()
    )
    .map(([user, password, host, path]) =>
      subscriber(
        ctx,
        "relay admin: subscriber URL with credentials",
        `https://${user}${password === undefined ? "" : `:${password}`}@${host}${path}`,
        {
          status: [422],
          code: "credentials_in_url",
          says: /credentials in URLs are not accepted/
        }
      )
    )

const controlCharacters = (ctx: Context) =>
  fc
    .tuple(
      fc.constantFrom("\r\n", "\r", "\n", "\t", "\u0000", " ", "\u00a0", "\u200b", "\u007f"),
      fc.constantFrom("host", "path", "end", "start"),
      fc.domain(),
      fc.webPath()
    )
    .map(([bad, where, host, path]) => {
      const url =
        where === "host"
          ? `https://${host}${bad}.example${path}`
          : where === "path"
            ? `https://${host}/in${bad}X-Injected: 1`
            : where === "end"
              ? `https://${host}${path}${bad}`
              : `${bad}https://${host}${path}`
      return subscriber(
        ctx,
        "relay admin: subscriber URL with control characters or whitespace (CR, LF, TAB, NUL, …)",
        url,
        {
          status: [422],
          code: "invalid_url",
          says: /whitespace or control characters/
        }
      )
    })

export const relayRequests = (ctx: Context): fc.Arbitrary<BadRequest> =>
  fc.oneof(
    { arbitrary: malformedJson(ctx), weight: 10 },
    { arbitrary: notAnEvent(ctx), weight: 6 },
    { arbitrary: unknownType(ctx), weight: 6 },
    { arbitrary: wrongTypes(ctx), weight: 24 },
    { arbitrary: refundsWrong(ctx), weight: 3 },
    { arbitrary: hugeRelay(ctx), weight: 1 },
    { arbitrary: forged(ctx), weight: 14 },
    { arbitrary: replayedSignature(ctx), weight: 8 },
    { arbitrary: resentAltered(ctx), weight: 3 },
    { arbitrary: staleTimestamp(ctx), weight: 8 },
    { arbitrary: badIds(ctx), weight: 6 },
    { arbitrary: notUtf8(ctx), weight: 4 },
    { arbitrary: embeddedPrivate(ctx), weight: 4 },
    { arbitrary: teredo(ctx), weight: 2 },
    { arbitrary: credentials(ctx), weight: 2 },
    { arbitrary: controlCharacters(ctx), weight: 3 },
    { arbitrary: relayIllFormedText(ctx), weight: 8 }
  )

// ---------------------------------------------------------------------------
// GraphQL
// ---------------------------------------------------------------------------

const graphqlPath = "/graphql"

const gqlHeaders = (ctx: Context): Record<string, string> => ({
  authorization: `Bearer ${ctx.graphqlKey}`,
  "content-type": "application/json",
  accept: "application/graphql-response+json"
})

const graphql = (
  ctx: Context,
  category: string,
  body: string,
  expect: Expectation,
  headers: Record<string, string> = gqlHeaders(ctx)
): BadRequest => ({
  category,
  target: "graphql",
  method: "POST",
  path: graphqlPath,
  headers,
  body,
  chunked: false,
  expect
})

const validQueries = [
  "{ health { ok components { name ok } } }",
  'query Order { order(orderNumber: "123") { orderNumber lines { orderLineId state } } }',
  "{ orders(state: completed, first: 5) { nodes { orderNumber } pageInfo { hasNextPage } } }",
  'query Many { ordersByNumber(orderNumbers: ["1", "2"]) { orderNumber } }'
] as const

const noKey = (ctx: Context) =>
  fc
    .tuple(
      fc.constantFrom("none", "wrong", "basic", "empty bearer"),
      fc.constantFrom(...validQueries),
      fc.base64String({ minLength: 8, maxLength: 40 })
    )
    .map(([how, query, random]) => {
      const { authorization: _auth, ...rest } = gqlHeaders(ctx)
      const headers =
        how === "none"
          ? rest
          : how === "wrong"
            ? { ...rest, authorization: `Bearer ${random}x` }
            : how === "basic"
              ? { ...rest, authorization: `Basic ${random}` }
              : { ...rest, authorization: "Bearer " }
      return graphql(
        ctx,
        "graphql: no or wrong API key",
        JSON.stringify({ query }),
        { status: [401], says: /API key/ },
        headers
      )
    })

const gqlMalformedJson = (ctx: Context) =>
  fc.tuple(fc.constantFrom(...validQueries), fc.nat()).map(([query, cut]) => {
    const valid = JSON.stringify({ query })
    const body = valid.slice(0, 1 + (cut % (valid.length - 1)))
    return graphql(ctx, "graphql: malformed JSON", body, { status: [400], says: /JSON/ })
  })

const wrongShape = (ctx: Context) =>
  fc
    .tuple(
      fc.constantFrom(
        "query not a string",
        "variables not an object",
        "extensions not an object",
        "unknown parameter",
        "null",
        "batch",
        "no query",
        "operationName not a string"
      ),
      fc.constantFrom(...validQueries),
      unknownKey,
      fc.oneof(fc.integer(), fc.boolean(), fc.constant([1, 2]))
    )
    .map(([how, query, key, junk]) => {
      const body =
        how === "query not a string"
          ? { query: junk }
          : how === "variables not an object"
            ? { query, variables: junk }
            : how === "extensions not an object"
              ? { query, extensions: junk }
              : how === "unknown parameter"
                ? { query, [key]: junk }
                : how === "null"
                  ? null
                  : how === "batch"
                    ? [{ query }]
                    : how === "no query"
                      ? {}
                      : { query, operationName: junk }
      return graphql(ctx, "graphql: wrong request shape", JSON.stringify(body), {
        status: [400],
        says: /query|variables|extensions|parameter|object|Batching|operation/i
      })
    })

const syntaxError = (ctx: Context) =>
  fc
    .tuple(
      fc.constantFrom(...validQueries),
      fc.nat(),
      fc.string({ maxLength: 20 }),
      fc.constantFrom("truncated", "extra brace", "bang")
    )
    .map(([query, cut, junk, how]) => {
      const opened = query.indexOf("{")
      const text =
        how === "truncated"
          ? query.slice(0, opened + 1 + (cut % Math.max(1, query.length - opened - 2)))
          : how === "extra brace"
            ? `${query} }${junk}`
            : `!${junk}`
      return graphql(ctx, "graphql: syntax error", JSON.stringify({ query: text }), {
        status: [400],
        says: /Syntax Error/
      })
    })

const unknownFields = (ctx: Context) =>
  fc.tuple(unknownKey, fc.constantFrom("top", "nested", "input")).map(([name, where]) => {
    const query =
      where === "top"
        ? `{ ${name} }`
        : where === "nested"
          ? `{ health { ok ${name} } }`
          : `mutation { validatePurchase(input: { assetId: 4000, customerIp: "192.0.2.1", quantity: 1, ${name}: 1 }) { __typename } }`
    return graphql(ctx, "graphql: unknown fields", JSON.stringify({ query }), {
      status: [400],
      says: /Cannot query field|is not defined by type/
    })
  })

const wrongArguments = (ctx: Context) =>
  fc
    .constantFrom(
      "{ order(orderNumber: { a: 1 }) { orderNumber } }",
      "{ order(orderNumber: [1, 2]) { orderNumber } }",
      "{ orders(state: NOT_A_STATE) { nodes { orderNumber } } }",
      '{ orders(state: completed, first: "ten") { nodes { orderNumber } } }',
      "{ assets(first: 1.5) { nodes { assetId } } }",
      "{ order { orderNumber } }",
      '{ purchaseStatus(orderNumber: "1", extra: 2) { __typename } }',
      'mutation { cancelOrderLine(orderNumber: true, orderLineId: "1") { __typename } }',
      'mutation { registerPurchase(input: "everything") { __typename } }'
    )
    .map((query) =>
      graphql(ctx, "graphql: wrong argument types", JSON.stringify({ query }), {
        status: [400],
        says: /cannot represent|Expected value of type|does not exist|argument|Unknown argument|Enum/i
      })
    )

/** Values of the wrong type for the variables below (null only where the type is non-null). */
export const wrongVariableValues = fc.oneof(
  fc.constant(null),
  fc.constant({}),
  fc.constant([]),
  fc.boolean(),
  // Finite only: JSON writes ±Infinity as null, a well-typed (out-of-range) `first`, not a wrong type.
  fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }),
  fc.constant("NOT_A_STATE"),
  fc.constant({ assetId: "x" })
)

const wrongVariables = (ctx: Context) =>
  fc
    .tuple(
      fc.constantFrom(
        ["query($n: ID!) { order(orderNumber: $n) { orderNumber } }", "n"] as const,
        ["query($s: OrderLineState!) { orders(state: $s) { nodes { orderNumber } } }", "s"] as const,
        ["query($f: Int) { assets(first: $f) { nodes { assetId } } }", "f"] as const,
        ["mutation($i: ValidatePurchaseInput!) { validatePurchase(input: $i) { __typename } }", "i"] as const
      ),
      wrongVariableValues
    )
    // A string is an ID; null is a valid (nullable) Int.
    .filter(
      ([[query], value]) =>
        !(query.includes("$n: ID!") && typeof value === "string") && !(query.includes("$f: Int)") && value === null)
    )
    .map(([[query, name], value]) =>
      graphql(ctx, "graphql: wrong variable types", JSON.stringify({ query, variables: { [name]: value } }), {
        status: [400],
        says: /Variable "\$/
      })
    )

/**
 * Well-typed but out of range (`first` outside 1–100, over 100 order numbers), written out or in
 * a variable: execution starts, the field refuses it. GraphQL over HTTP: 200, with the error.
 */
const outOfRange = (ctx: Context) =>
  fc
    .tuple(
      fc.constantFrom(
        "orders(state: completed, first: $) { nodes { orderNumber } }",
        "assets(first: $) { nodes { assetId } }"
      ),
      fc.oneof(fc.integer({ min: -(2 ** 31), max: 0 }), fc.integer({ min: 101, max: 2 ** 31 - 1 }), fc.constant(null)),
      fc.boolean(),
      fc.integer({ min: 101, max: 3000 })
    )
    .chain(([field, first, inVariable, count]) =>
      fc.constantFrom(
        inVariable || first === null
          ? { query: `query($f: Int) { ${field.replace("$", "$f")} }`, variables: { f: first } }
          : { query: `{ ${field.replace("$", String(first))} }` },
        {
          query: "query($n: [ID!]!) { ordersByNumber(orderNumbers: $n) { orderNumber lines { downloadUrl } } }",
          variables: { n: Array.from({ length: count }, (_, i) => String(i + 1)) }
        }
      )
    )
    .map((body) =>
      graphql(
        ctx,
        "graphql: out-of-range argument, literal or variable (→ 200, BAD_USER_INPUT)",
        JSON.stringify(body),
        {
          status: [200],
          says: /first must be between 1 and 100|at most 100 order numbers/
        }
      )
    )

/**
 * The amplification attack: one stored order ×100, its lines' `downloadUrl` under 14 aliases.
 * Answered with at most one HL Connect call per distinct (order, line) (BadInput counts them), or
 * refused field by field with the typed budget or rate error.
 */
const amplification = (ctx: Context) =>
  fc
    .tuple(fc.constantFrom(...(ctx.storedOrders.length === 0 ? ["1"] : ctx.storedOrders)), fc.boolean())
    .map(([order, inVariable]) => {
      const urls = Array.from({ length: 14 }, (_, i) => `a${i}: downloadUrl`).join(" ")
      const numbers = Array.from({ length: 100 }, () => order)
      const body = inVariable
        ? {
            query: `query($n: [ID!]!) { ordersByNumber(orderNumbers: $n) { lines { ${urls} } } }`,
            variables: { n: numbers }
          }
        : { query: `{ ordersByNumber(orderNumbers: ${JSON.stringify(numbers)}) { lines { ${urls} } } }` }
      return graphql(ctx, amplificationCategory, JSON.stringify(body), {
        status: [200],
        says: /budget of \d+ HL Connect calls|Too many HL Connect calls/,
        mayAnswer: true
      })
    })

export const amplificationCategory = "graphql: upstream amplification (one order ×100, 14 downloadUrl aliases)"

/** Bodies a browser sends cross-site without a preflight: refused before they are read. */
const notJson = (ctx: Context) =>
  fc
    .tuple(
      fc.constantFrom(
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        "text/plain;charset=UTF-8"
      ),
      fc.constantFrom(...validQueries)
    )
    .map(([contentType, query]) =>
      graphql(
        ctx,
        "graphql: form or text/plain body (→ 415)",
        contentType.startsWith("application/x-www") ? `query=${encodeURIComponent(query)}` : JSON.stringify({ query }),
        { status: [415], says: /application\/json/ },
        {
          ...gqlHeaders(ctx),
          "content-type": contentType
        }
      )
    )

const depthBomb = (ctx: Context) =>
  fc.integer({ min: 9, max: 120 }).map((depth) => {
    let selection = "ok"
    for (let i = 0; i < depth; i++) selection = `lines { ${selection} }`
    return graphql(
      ctx,
      "graphql: depth bomb",
      JSON.stringify({ query: `{ order(orderNumber: "1") { ${selection} } }` }),
      {
        status: [400],
        says: /depth limit|Token limit/
      }
    )
  })

const aliasBomb = (ctx: Context) =>
  // Not `__typename`: GraphQL Armor allows any number of those by design (the token limit bounds them).
  fc
    .tuple(
      fc.integer({ min: 16, max: 300 }),
      fc.constantFrom(
        "health { ok }",
        'order(orderNumber: "1") { orderNumber }',
        'purchaseStatus(orderNumber: "1") { __typename }'
      )
    )
    .map(([n, field]) => {
      const aliases = Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ")
      return graphql(ctx, "graphql: alias bomb", JSON.stringify({ query: `{ ${aliases} }` }), {
        status: [400],
        says: /Aliases limit|Token limit/
      })
    })

const mutationOverGet = (ctx: Context) =>
  fc.constantFrom('mutation { cancelOrderLine(orderNumber: "1", orderLineId: "1") { __typename } }').map(
    (query): BadRequest => ({
      category: "graphql: mutation over GET",
      target: "graphql",
      method: "GET",
      path: `${graphqlPath}?query=${encodeURIComponent(query)}`,
      headers: { authorization: `Bearer ${ctx.graphqlKey}`, accept: "application/graphql-response+json" },
      body: undefined,
      chunked: false,
      expect: { status: [405], says: /POST/ }
    })
  )

const registerPurchase = `mutation($input: RegisterPurchaseInput!) { registerPurchase(input: $input) {
  __typename ... on Problem { message } ... on InvalidInput { field }
} }`

const gqlIllFormedText = (ctx: Context) =>
  fc
    .tuple(
      orderNumber,
      fc.constantFrom("customer", "customerEmail", "token") as fc.Arbitrary<"customer" | "customerEmail" | "token">
    )
    .chain(([n, field]) =>
      illFormedText(field === "customer" ? "name" : field === "customerEmail" ? "email" : "token").map(
        (text) => [n, field, text] as const
      )
    )
    .map(([n, field, text]) => {
      const input = {
        token: "chaos-not-a-real-token",
        orderNumber: String(n),
        orderLineId: "1",
        assetId: 4000,
        quantity: 1,
        unitPrice: 3.99,
        lineItemPrice: 3.99,
        currency: "USD",
        customer: "Chaos Input",
        customerEmail: "input@example.com",
        [field]: text
      }
      return graphql(
        ctx,
        "graphql: registerPurchase with ill-formed text (→ InvalidInput)",
        JSON.stringify({ query: registerPurchase, variables: { input } }),
        {
          status: [200],
          answer: { field: "registerPurchase", typename: "InvalidInput" },
          says: new RegExp(`"field":"${field}".*${illFormed.source}|${illFormed.source}.*"field":"${field}"`)
        }
      )
    })

/** A seed purchase's first line, as its `order.paid` body has it. */
const SeedEvent = Schema.parseJson(
  Schema.Struct({
    data: Schema.Struct({
      order_number: Schema.String,
      customer: Schema.Struct({ name: Schema.String, email: Schema.String }),
      currency: Schema.String,
      lines: Schema.NonEmptyArray(
        Schema.Struct({
          order_line_id: Schema.Int,
          asset_id: Schema.Int,
          quantity: Schema.Int,
          unit_price: Schema.NumberFromString,
          line_price: Schema.NumberFromString,
          validation_token: Schema.String,
          parts: Schema.optional(Schema.Array(Schema.Struct({ asset_id: Schema.Int, order_line_id: Schema.Int })))
        })
      )
    })
  })
)
const decodeSeed = Schema.decodeUnknownOption(SeedEvent)

/** `registerPurchase` for an accepted purchase's first line, its customer spelled NFD: the same purchase. */
const knownPurchaseInNfd = (ctx: Context): ReadonlyArray<BadRequest> =>
  ctx.accepted.flatMap((a) =>
    Option.match(decodeSeed(a.body), {
      onNone: () => [],
      onSome: ({ data }) => {
        const [line] = data.lines
        const input = {
          token: line.validation_token,
          orderNumber: data.order_number,
          orderLineId: String(line.order_line_id),
          assetId: line.asset_id,
          quantity: line.quantity,
          unitPrice: line.unit_price,
          lineItemPrice: line.line_price,
          currency: data.currency,
          customer: data.customer.name.normalize("NFD"),
          customerEmail: data.customer.email.normalize("NFD"),
          ...(line.parts === undefined
            ? {}
            : { parts: line.parts.map((p) => ({ assetId: p.asset_id, orderLineId: String(p.order_line_id) })) })
        }
        return [
          graphql(
            ctx,
            "graphql: a known purchase, customer spelled NFD (→ AlreadyRegistered)",
            JSON.stringify({ query: registerPurchase, variables: { input } }),
            {
              status: [200],
              answer: { field: "registerPurchase", typename: "AlreadyRegistered" },
              says: /AlreadyRegistered/
            }
          )
        ]
      }
    })
  )

export const graphqlRequests = (ctx: Context): fc.Arbitrary<BadRequest> =>
  fc.oneof(
    { arbitrary: noKey(ctx), weight: 8 },
    { arbitrary: gqlMalformedJson(ctx), weight: 8 },
    { arbitrary: wrongShape(ctx), weight: 10 },
    { arbitrary: syntaxError(ctx), weight: 12 },
    { arbitrary: unknownFields(ctx), weight: 12 },
    { arbitrary: wrongArguments(ctx), weight: 10 },
    { arbitrary: wrongVariables(ctx), weight: 10 },
    { arbitrary: outOfRange(ctx), weight: 6 },
    { arbitrary: amplification(ctx), weight: 3 },
    { arbitrary: notJson(ctx), weight: 4 },
    { arbitrary: depthBomb(ctx), weight: 10 },
    { arbitrary: aliasBomb(ctx), weight: 10 },
    { arbitrary: mutationOverGet(ctx), weight: 2 },
    { arbitrary: gqlIllFormedText(ctx), weight: 8 },
    ...knownPurchaseInNfd(ctx).map((request) => ({ arbitrary: fc.constant(request), weight: 1 }))
  )

/** The largest GRAPHQL_MAX_BODY_BYTES allowed (default 1 MiB): bodies over it are over any setting. */
export const graphqlLimit = 25_000_000

/** A few bodies over GraphQL's limit (they are big: not left to chance). */
export const hugeGraphql = (ctx: Context): ReadonlyArray<BadRequest> =>
  [false, true].map((chunked) => {
    const body = Buffer.concat([
      Buffer.from('{"query":"{ health { ok } }","pad":"'),
      Buffer.alloc(graphqlLimit + 1024, "a"),
      Buffer.from('"}')
    ])
    const category = `graphql: body over ${graphqlLimit} bytes (${chunked ? "chunked" : "content-length"})`
    return { ...graphql(ctx, category, "", { status: [413], says: /too large/ }), body, chunked }
  })

/** `total` requests: 60 % to the relay, 40 % to GraphQL (plus the few huge GraphQL bodies). */
export const generate = (ctx: Context, total: number, seed: number): ReadonlyArray<BadRequest> => {
  const toRelay = Math.ceil(total * 0.6)
  const huge = hugeGraphql(ctx)
  return [
    ...fc.sample(relayRequests(ctx), { numRuns: toRelay, seed }),
    ...fc.sample(graphqlRequests(ctx), { numRuns: Math.max(0, total - toRelay - huge.length), seed: seed + 1 }),
    ...huge
  ]
}

/** A secret the relay does not know, for forgeries. */
export const strangerSecret = (): string => `whsec_${randomBytes(24).toString("base64")}`
