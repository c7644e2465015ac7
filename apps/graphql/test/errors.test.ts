/**
 * Unexpected failures reach callers masked, with a correlation id that the server log carries
 * next to the cause; the log never holds a URL, HL Connect's token or a caller's API key.
 */
import { Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SandboxToken } from "@hlconnect/sandbox"
import { registerAtSandbox, settle, storeOrder } from "./support/seed.js"
import { ApiKey, field, startServer, type TestServer } from "./support/server.js"

interface LogLine {
  readonly message: unknown
  readonly logLevel: string
  readonly cause?: string
  readonly annotations: Record<string, unknown>
}

const parse = (line: string): LogLine => JSON.parse(line)

describe("masked errors", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer()
    await registerAtSandbox(server, 7001, [{ lineId: 1 }])
    await settle(server, 7001, 1, "COMPLETED")
    await storeOrder(server, "7001", [{ lineId: 1, state: "completed" }])
  })
  afterAll(async () => {
    await server?.close()
  })

  const script = (kind: "teapot418" | "error500" | "html502", endpoint: string, times = 1) =>
    server.sandbox.run(
      server.sandbox.state.scriptFaults([
        { kind, endpoint, times, retry_after_seconds: 0, delay_ms: 0, status: 200, body: "" }
      ])
    )

  it.each([
    ["an undocumented status", "teapot418", "UnexpectedResponse"],
    ["HL Connect unavailable", "error500", "HlConnectUnavailable"],
    ["a proxy's HTML 502 on every attempt", "html502", "HlConnectUnavailable"]
  ] as const)("%s: masked, with a correlation id that is in the log with its cause", async (_name, kind, tag) => {
    // A transient fault is retried: script it for every attempt the client makes.
    await script(kind, "purchaseInfo", tag === "HlConnectUnavailable" ? 20 : 1)
    const { status, body } = await server.query(`{ order(orderNumber: "7001") { orderNumber remote { __typename } } }`)
    expect(status).toBe(200)
    // Partial success: the local order is there, the remote part is null with one masked error.
    expect(field(body.data, "order", "orderNumber")).toBe("7001")
    expect(field(body.data, "order", "remote")).toBeNull()
    expect(body.errors).toHaveLength(1)
    const error = body.errors?.[0]
    expect(error?.message).toBe("Unexpected error.")
    expect(error?.path).toEqual(["order", "remote"])
    expect(Object.keys(error?.extensions ?? {}).sort()).toEqual(["code", "correlationId"])
    const correlationId = String(error?.extensions?.correlationId)
    const logged = server.logs.map(parse).filter((line) => line.annotations.correlationId === correlationId)
    expect(logged).toHaveLength(1)
    expect(logged[0]?.logLevel).toBe("ERROR")
    expect(logged[0]?.annotations.field).toBe("order.remote")
    expect(logged[0]?.cause).toContain(tag)
  })

  it("the correlation id is the trace id of the caller's traceparent: the error leads to its trace", async () => {
    await script("teapot418", "purchaseInfo")
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
    const { body } = await server.query(`{ order(orderNumber: "7001") { remote { __typename } } }`, undefined, {
      authorization: `Bearer ${ApiKey}`,
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`
    })
    expect(body.errors?.[0]?.message).toBe("Unexpected error.")
    expect(body.errors?.[0]?.extensions?.correlationId).toBe(traceId)
    // The log line of the failure is in that trace too.
    const logged = server.logs.map(parse).find((line) => line.annotations.correlationId === traceId)
    expect(logged?.logLevel).toBe("ERROR")
    expect(
      JSON.parse(server.logs.find((line) => line.includes(traceId) && line.includes("trace_id")) ?? "{}").trace_id
    ).toBe(traceId)
  })

  it("mutations: an unexpected failure is masked too, not a union member", async () => {
    // A line unknown locally goes to HL Connect directly: nobody retries it, so the caller learns.
    await script("teapot418", "cancelOrderLine")
    const { body } = await server.query(
      `mutation { cancelOrderLine(orderNumber: "7999", orderLineId: "1") { __typename } }`
    )
    expect(body.data).toBeNull()
    expect(body.errors?.[0]?.message).toBe("Unexpected error.")
    expect(body.errors?.[0]?.extensions?.code).toBe("INTERNAL_SERVER_ERROR")
  })

  it("mutations: for a line recorded locally, an unexpected answer is the reconciler's to retry", async () => {
    await storeOrder(server, "7003", [{ lineId: 1, state: "registered" }])
    await script("teapot418", "cancelOrderLine")
    const { body } = await server.query(
      `mutation { cancelOrderLine(orderNumber: "7003", orderLineId: "1") { __typename ... on RetryScheduled { state error } } }`
    )
    expect(field(body.data, "cancelOrderLine")).toEqual({
      __typename: "RetryScheduled",
      state: "cancel_requested",
      error: expect.stringContaining("418")
    })
  })

  it("HL Connect refusing our own token is unexpected (a misconfiguration), and masked", async () => {
    const misconfigured = await startServer({ client: { accessToken: Redacted.make("not-the-sandbox-token") } })
    try {
      const { body } = await misconfigured.query(`{ purchaseStatus(orderNumber: "1") { __typename } }`)
      const correlationId = String(body.errors?.[0]?.extensions?.correlationId)
      expect(body.errors?.[0]?.message).toBe("Unexpected error.")
      const logged = misconfigured.logs.map(parse).find((line) => line.annotations.correlationId === correlationId)
      expect(logged?.cause).toContain("Unauthorized")
      expect(misconfigured.logs.join("\n")).not.toContain("not-the-sandbox-token")
    } finally {
      await misconfigured.close()
    }
  })

  it("the log holds no URL, no HL Connect token and no API key", async () => {
    await server.query(
      `{ order(orderNumber: "7001") { lines { downloadUrl viewUrl } remote { ... on PurchaseCompleted { items { downloadUrl } } } } }`
    )
    const everything = server.logs.join("\n")
    expect(everything).not.toContain("/nf/")
    expect(everything).not.toContain(SandboxToken)
    expect(everything).not.toContain(ApiKey)
  })
})
