/**
 * The call's span, against a real HTTP server that records the `traceparent` it is sent: one
 * `HlConnect.<endpoint>` client span per call, opened with the endpoint, method and order, ending
 * with the response status and the outcome (and `code.stacktrace` when the call fails), a child
 * of the caller's span, named by the request's `traceparent`. Without a tracer the call opens no
 * span and the request continues whatever trace the caller is in.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Context, Effect, Exit, Option, Redacted, Tracer } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll } from "vitest"
import { HlConnectApi } from "../src/index.js"
import { makeClient } from "../src/Endpoints.js"

/** The `traceparent` of every request, in order (`none` when absent). */
const received: Array<string> = []
let server: Server
let baseUrl = ""
beforeAll(async () => {
  server = createServer((request, response) => {
    received.push(String(request.headers.traceparent ?? "none"))
    const order = new URL(request.url ?? "/", "http://localhost").searchParams.get("order_id")
    if (order === "1") response.writeHead(202).end()
    else response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: "no order" }))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

class Recorded implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId = Math.random().toString(16).slice(2, 18).padEnd(16, "0")
  readonly traceId: string
  readonly sampled = true
  status: Tracer.SpanStatus
  readonly attributes = new Map<string, unknown>()
  readonly links: Array<Tracer.SpanLink>
  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint,
    readonly kind: Tracer.SpanKind
  ) {
    this.traceId = Option.isSome(parent) ? parent.value.traceId : "0af7651916cd43dd8448eb211c80319c"
    this.status = { _tag: "Started", startTime }
    this.links = [...links]
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }
  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
  }
  event(): void {}
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.links.push(...links)
  }
}

const recording = () => {
  const spans: Array<Recorded> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const span = new Recorded(name, parent, context, links, startTime, kind)
      spans.push(span)
      return span
    },
    context: (f) => f()
  })
  return { spans, tracer }
}

const purchaseInfo = (orderId: number) =>
  Effect.scoped(
    Effect.flatMap(makeClient({ baseUrl, accessToken: Redacted.make("t"), maxAttempts: 1 }, HlConnectApi), (client) =>
      Effect.exit(client.purchaseInfo({ order_id: orderId }))
    )
  )

const traceparentOf = (span: Tracer.AnySpan) => `00-${span.traceId}-${span.spanId}-01`

describe("the call's span", () => {
  it.effect("opened with the endpoint, method and order; ends with the status and outcome; named by traceparent", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recording()
      received.length = 0
      const exit = yield* Effect.withTracer(purchaseInfo(1), tracer)
      expect(Exit.isSuccess(exit)).toBe(true)
      const [span, ...others] = spans
      expect(others).toEqual([])
      expect(span?.name).toBe("HlConnect.purchaseInfo")
      expect(span?.kind).toBe("client")
      expect(Object.fromEntries(span?.attributes ?? [])).toEqual({
        "hlconnect.endpoint": "purchaseInfo",
        "http.request.method": "GET",
        "hlconnect.order_number": 1,
        "http.response.status_code": 202,
        "hlconnect.outcome": "success"
      })
      expect(span?.status._tag).toBe("Ended")
      expect(received).toEqual([span === undefined ? "" : traceparentOf(span)])
    })
  )

  it.effect("a failed call's span carries the failure as its outcome and the call site as code.stacktrace", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recording()
      const exit = yield* Effect.withTracer(purchaseInfo(2), tracer)
      expect(Exit.isFailure(exit)).toBe(true)
      const span = spans[0]
      expect(span?.attributes.get("http.response.status_code")).toBe(404)
      expect(span?.attributes.get("hlconnect.outcome")).toBe("OrderNotFound")
      expect(span?.attributes.get("code.stacktrace")).toMatch(/\S/)
      expect(span?.status._tag === "Ended" && Exit.isFailure(span.status.exit)).toBe(true)
    })
  )

  it.effect("is a child of the caller's span, in its trace", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recording()
      received.length = 0
      yield* Effect.withTracer(Effect.withSpan(purchaseInfo(1), "caller"), tracer)
      const caller = spans.find((s) => s.name === "caller")
      const call = spans.find((s) => s.name === "HlConnect.purchaseInfo")
      expect(Option.getOrUndefined(call?.parent ?? Option.none())).toBe(caller)
      expect(call?.traceId).toBe(caller?.traceId)
      expect(received).toEqual([call === undefined ? "" : traceparentOf(call)])
    })
  )

  it.effect("without a tracer: no span, and the request continues the caller's trace", () =>
    Effect.gen(function* () {
      received.length = 0
      yield* purchaseInfo(1)
      const caller = Tracer.externalSpan({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" })
      yield* Effect.withParentSpan(purchaseInfo(1), caller)
      expect(received).toEqual(["none", traceparentOf(caller)])
    })
  )
})
