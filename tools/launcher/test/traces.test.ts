/**
 * Traces end to end: the real `npm start` command (`node dist/main.js`) with
 * `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a real OTLP/HTTP receiver this test starts (bodies
 * decoded with the OpenTelemetry proto definitions). A GraphQL request carrying a caller's
 * `traceparent` must come back as one tree — the caller's span → GraphQL's server span →
 * `HlConnect.validatePurchase` → the sandbox's server span (the sandbox exports too, joined by the
 * `traceparent` the client sent); a signed `order.paid` must reach `HlConnect.registerPurchase`
 * with the order's attributes and the sandbox's span under it; SIGTERM must flush what is left;
 * and no exported span may carry a token, a secret, a customer IP or a URL credential.
 */
import { Schema } from "effect"
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { randomBytes } from "node:crypto"
import { Webhook } from "standardwebhooks"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  freePorts,
  paidLine,
  ValidateAnswer,
  type LauncherFile,
  type LauncherProcess,
  type Running,
  reveal,
  startLauncher,
  waitFor
} from "./LauncherProcess.js"
import * as OtlpReceiver from "./OtlpReceiver.js"

const root = mkdtempSync(join(tmpdir(), "launcher-traces-"))
const dataDir = join(root, "data")
const settleMs = 90_000

let receiver: OtlpReceiver.OtlpReceiver
let launcher: LauncherProcess
let running: Running
let secrets: LauncherFile
const customerIp = "192.0.2.1"
const validationTokens: Array<string> = []

// The caller's span: GraphQL's server span must be its child.
const callerTrace = randomBytes(16).toString("hex")
const callerSpan = randomBytes(8).toString("hex")
// The commerce platform's span that sent order.paid, and the operator's that added a subscriber.
const paidTrace = randomBytes(16).toString("hex")
const paidSpan = randomBytes(8).toString("hex")
const adminTrace = randomBytes(16).toString("hex")
const adminSpan = randomBytes(8).toString("hex")

let subscriber: Server
const delivered: Array<IncomingHttpHeaders> = []

beforeAll(async () => {
  receiver = await OtlpReceiver.start()
  subscriber = createServer((request, response) => {
    delivered.push(request.headers)
    request.resume()
    request.on("end", () => response.writeHead(204).end())
  })
  await new Promise<void>((resolve) => subscriber.listen(0, "127.0.0.1", resolve))
  launcher = await startLauncher({
    DATA_DIR: dataDir,
    ...freePorts,
    LOG_FORMAT: "json",
    RECONCILE_SCHEDULE: "* * * * * *",
    SANDBOX_FULFILMENT_DELAY: "1 second",
    FULFILMENT_FIRST_CHECK: "500 millis",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_SERVICE_NAME: "hlconnect-traces-test",
    OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test",
    // A long batch delay: what is still queued at SIGTERM must be flushed by the shutdown.
    OTEL_BSP_SCHEDULE_DELAY: "60000"
  })
  running = launcher.running
  secrets = launcher.secrets
}, 180_000)

afterAll(async () => {
  await launcher?.kill()
  await receiver?.close()
  await new Promise<void>((resolve) => (subscriber === undefined ? resolve() : subscriber.close(() => resolve())))
  rmSync(root, { recursive: true, force: true })
})

describe("traces from the launcher to a real OTLP receiver", () => {
  it("announces where traces go", () => {
    expect(running.traces).toBe(`exported to ${receiver.endpoint}/v1/traces (OTLP http/protobuf)`)
  })

  it(
    "a GraphQL request and a paid order become trees that join the sandbox's spans; shutdown flushes them",
    async () => {
      // The relay admin API continues the operator's traceparent.
      const address: AddressInfo | string | null = subscriber.address()
      if (address === null || typeof address === "string") throw new Error("subscriber has no TCP address")
      const created = await fetch(`${running.relayAdmin}/subscribers`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${reveal(secrets.generated.relayAdminToken)}`,
          "content-type": "application/json",
          traceparent: `00-${adminTrace}-${adminSpan}-01`
        },
        body: JSON.stringify({ url: `http://127.0.0.1:${address.port}/hooks`, events: ["order.completed"] })
      })
      expect(created.status).toBe(201)
      await created.arrayBuffer()

      const validate = `mutation V($input: ValidatePurchaseInput!) {
        validatePurchase(input: $input) { __typename ... on ValidationToken { token expiresAt } }
      }`
      const lines: Array<Record<string, string | number>> = []
      for (const [i, assetId] of [4000, 4002].entries()) {
        const response = await fetch(running.graphql, {
          method: "POST",
          headers: {
            authorization: `Bearer ${reveal(secrets.generated.graphqlApiKey)}`,
            "content-type": "application/json",
            "x-forwarded-for": customerIp,
            // Only the first request is the caller's traced one.
            ...(i === 0 ? { traceparent: `00-${callerTrace}-${callerSpan}-01` } : {})
          },
          body: JSON.stringify({ query: validate, variables: { input: { assetId, customerIp, quantity: 1 } } })
        })
        expect(response.status).toBe(200)
        const validation = Schema.decodeUnknownSync(ValidateAnswer)(await response.json()).data.validatePurchase
        validationTokens.push(validation.token)
        lines.push(paidLine(i + 1, assetId, validation))
      }

      const orderNumber = String(Date.now())
      const body = JSON.stringify({
        type: "order.paid",
        timestamp: new Date().toISOString(),
        data: {
          order_number: orderNumber,
          customer: { name: "Trace Customer", email: "trace@example.com" },
          currency: "USD",
          lines
        }
      })
      const id = `msg_traces_${orderNumber}`
      const now = new Date()
      const paid = await fetch(running.relayIngest, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "webhook-id": id,
          "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
          "webhook-signature": new Webhook(reveal(secrets.generated.relayWebhookSecret)).sign(id, now, body),
          traceparent: `00-${paidTrace}-${paidSpan}-01`
        },
        body
      })
      expect(paid.status).toBe(202)
      await paid.arrayBuffer()
      // Registered (the relay's dispatcher) and then completed (the reconciler's purchaseInfo).
      await waitFor("the order to be completed", async () => {
        const answer = await fetch(running.graphql, {
          method: "POST",
          headers: {
            authorization: `Bearer ${reveal(secrets.generated.graphqlApiKey)}`,
            "content-type": "application/json"
          },
          body: JSON.stringify({ query: `query { order(orderNumber: "${orderNumber}") { lines { state } } }` })
        })
        const text = await answer.text()
        return text.includes('"completed"') && !text.includes('"registered"') && !text.includes('"paid"')
          ? true
          : undefined
      })
      // Both lines' order.completed reached our subscriber.
      await waitFor("two deliveries", () => (delivered.length >= 2 ? true : undefined))

      // Nothing is exported before the 60 s batch delay: the spans arrive with the shutdown's flush.
      launcher.child.kill("SIGTERM")
      expect(await launcher.exited).toEqual({ code: 0, signal: null })
      const spans = receiver.spans
      expect(spans.length).toBeGreaterThan(0)
      expect(receiver.requests.every((type) => type.startsWith("application/x-protobuf"))).toBe(true)
      expect(new Set(spans.map((s) => s.service))).toEqual(new Set(["hlconnect-traces-test"]))

      // GraphQL: the caller's span → the server span → the client call → the sandbox's server span.
      const byId = new Map(spans.map((s) => [s.spanId, s]))
      const inCallerTrace = spans.filter((s) => s.traceId === callerTrace)
      const server = inCallerTrace.find((s) => s.parentSpanId === callerSpan)
      expect(server?.name).toMatch(/^http\.server POST/)
      const validateCall = inCallerTrace.find((s) => s.name === "HlConnect.validatePurchase")
      expect(validateCall?.attributes["hlconnect.endpoint"]).toBe("validatePurchase")
      expect(validateCall?.attributes["http.response.status_code"]).toBe("200")
      expect(validateCall?.attributes["hlconnect.outcome"]).toBe("success")
      // Its ancestors lead to the GraphQL server span.
      const ancestors: Array<string> = []
      for (let s = validateCall; s !== undefined; s = byId.get(s.parentSpanId)) ancestors.push(s.spanId)
      expect(ancestors).toContain(server?.spanId)
      const sandboxServer = inCallerTrace.find((s) => s.parentSpanId === validateCall?.spanId)
      expect(sandboxServer?.name).toMatch(/^http\.server POST/)
      expect(sandboxServer?.attributes["url.path"]).toBe("/purchase/validate-purchase-before-payment")

      // The paid order: registered with its number and lines on the span, the sandbox's span under it.
      const registers = spans.filter(
        (s) => s.name === "HlConnect.registerPurchase" && s.attributes["hlconnect.order_number"] === orderNumber
      )
      expect(new Set(registers.map((s) => s.attributes["hlconnect.order_line_id"]))).toEqual(new Set(["1", "2"]))
      for (const r of registers) {
        expect(r.attributes["http.response.status_code"]).toBe("201")
        const child = spans.find((s) => s.parentSpanId === r.spanId)
        expect(child?.attributes["url.path"]).toBe("/purchase/register")
        expect(child?.traceId).toBe(r.traceId)
      }
      const infos = spans.filter(
        (s) => s.name === "HlConnect.purchaseInfo" && s.attributes["hlconnect.order_number"] === orderNumber
      )
      expect(infos.length).toBeGreaterThan(0)

      // One order, one story: every hop of the paid order is in the commerce platform's trace.
      const ingest = spans.find((s) => s.name === "Relay.ingest" && s.parentSpanId === paidSpan)
      expect(ingest?.traceId).toBe(paidTrace)
      expect(ingest?.attributes["http.response.status_code"]).toBe("202")
      const dispatch = spans.find((s) => s.name === "Relay.dispatch" && s.parentSpanId === ingest?.spanId)
      expect(dispatch?.traceId).toBe(paidTrace)
      for (const r of registers) expect(r.traceId).toBe(paidTrace)
      const reconciles = spans.filter(
        (s) => s.name === "Fulfilment.reconcileOrder" && s.attributes["hlconnect.order_number"] === orderNumber
      )
      expect(reconciles.length).toBeGreaterThan(0)
      for (const r of reconciles) expect(r.traceId).toBe(paidTrace)
      for (const i of infos) expect(i.traceId).toBe(paidTrace)
      const deliveries = spans.filter(
        (s) => s.name === "Relay.deliver" && s.attributes["hlconnect.order_number"] === orderNumber
      )
      // Ours and the demo subscriber's: each delivery its own span.
      expect(deliveries.length).toBeGreaterThanOrEqual(2)
      for (const d of deliveries) expect(d.traceId).toBe(paidTrace)
      // Our subscriber received its delivery's span as the parent: it can join the trace.
      const deliverySpans = new Set(deliveries.map((d) => `00-${paidTrace}-${d.spanId}-01`))
      expect(delivered.length).toBe(2)
      for (const h of delivered) expect(deliverySpans.has(String(h.traceparent))).toBe(true)

      // The admin API's server span continues the operator's span.
      const admin = spans.find((s) => s.traceId === adminTrace && s.parentSpanId === adminSpan)
      expect(admin?.name).toMatch(/^http\.server POST/)

      // No token, secret, customer IP or URL credential in any exported span.
      const forbidden = [...Object.values(secrets.generated).map(reveal), ...validationTokens, customerIp, "Bearer "]
      const exported = JSON.stringify(spans)
      for (const value of forbidden) expect(exported, value.slice(0, 8)).not.toContain(value)
      expect(exported).not.toMatch(/download|signature=|expires=/i)
    },
    settleMs * 2
  )
})
