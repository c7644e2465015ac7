/**
 * The real command, end to end: `node dist/main.js` as a child process (zero configuration apart
 * from free ports, a temporary data directory and a fast schedule), driven over HTTP only, the way
 * a storefront, a commerce platform and a subscriber would. Validate through GraphQL, send a signed
 * `order.paid` to the relay (signed with the `standardwebhooks` library, the real peer), let the
 * reconciler complete it against the sandbox, receive the signed `order.completed` at a subscriber
 * of our own, read the order and a fresh download URL through GraphQL, refund one line and see it
 * cancelled; then the demo command, SIGTERM, and the logs checked for secrets and URLs.
 */
import { Schema } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Webhook } from "standardwebhooks"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  cleanEnv,
  freePorts,
  paidLine,
  ValidateAnswer,
  type LauncherFile,
  type LauncherProcess,
  type Running,
  reveal,
  sleep,
  startLauncher,
  waitFor
} from "./LauncherProcess.js"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const root = mkdtempSync(join(tmpdir(), "launcher-e2e-"))
// Not there yet: the launcher creates it (private).
const dataDir = join(root, "data")

// ---------------------------------------------------------------------------
// What the test reads, decoded (no casts)
// ---------------------------------------------------------------------------

const CreatedSubscriber = Schema.Struct({ id: Schema.String, secret: Schema.String })

const Delivered = Schema.Struct({
  type: Schema.String,
  order_number: Schema.String,
  sequence: Schema.Number,
  data: Schema.Struct({ line: Schema.Struct({ order_line_id: Schema.String, state: Schema.String }) })
})
type Delivered = typeof Delivered.Type

const OrderAnswer = Schema.Struct({
  data: Schema.Struct({
    order: Schema.Struct({
      orderNumber: Schema.String,
      lines: Schema.Array(
        Schema.Struct({
          orderLineId: Schema.String,
          state: Schema.String,
          remoteStatus: Schema.NullOr(Schema.String),
          downloadUrl: Schema.NullOr(Schema.String)
        })
      )
    })
  })
})

// ---------------------------------------------------------------------------
// The launcher as a child process, and a subscriber of our own
// ---------------------------------------------------------------------------

const launcherEnv = (): Record<string, string> => ({
  DATA_DIR: dataDir,
  ...freePorts,
  LOG_FORMAT: "json",
  // Everything the apps log is checked for secrets below, debug included.
  LOG_LEVEL: "debug",
  RECONCILE_SCHEDULE: "* * * * * *",
  SANDBOX_FULFILMENT_DELAY: "1 second",
  FULFILMENT_FIRST_CHECK: "500 millis",
  FULFILMENT_MAX_CHECK_DELAY: "2 seconds",
  RELAY_RETRY_SCHEDULE: "1 second,2 seconds,4 seconds,8 seconds"
})

let launcher: LauncherProcess
let running: Running
let secrets: LauncherFile

interface Received {
  readonly headers: IncomingHttpHeaders
  readonly body: string
}
const received: Array<Received> = []
let subscriberServer: Server
let subscriberUrl: string
let subscriberSecret: string
const validationTokens: Array<string> = []
const downloadUrls: Array<string> = []

const header = (headers: IncomingHttpHeaders, name: string): string => {
  const value = headers[name]
  return typeof value === "string" ? value : ""
}

/** The deliveries our subscriber got, each verified with `standardwebhooks` (throws on a bad signature). */
const verifiedDeliveries = (): Array<Delivered> => {
  const verifier = new Webhook(subscriberSecret)
  return received.map(({ body, headers }) =>
    Schema.decodeUnknownSync(Delivered)(
      verifier.verify(body, {
        "webhook-id": header(headers, "webhook-id"),
        "webhook-timestamp": header(headers, "webhook-timestamp"),
        "webhook-signature": header(headers, "webhook-signature")
      })
    )
  )
}

const delivery = (orderNumber: string, type: string, line: string) =>
  verifiedDeliveries().find(
    (d) => d.order_number === orderNumber && d.type === type && d.data.line.order_line_id === line
  )

const graphql = async <A, I>(
  schema: Schema.Schema<A, I>,
  query: string,
  variables: Record<string, unknown>
): Promise<A> => {
  const response = await fetch(running.graphql, {
    method: "POST",
    headers: {
      authorization: `Bearer ${reveal(secrets.generated.graphqlApiKey)}`,
      "content-type": "application/json"
    },
    body: JSON.stringify({ query, variables })
  })
  expect(response.status).toBe(200)
  return Schema.decodeUnknownSync(schema)(await response.json())
}

/** A commerce event signed by the peer implementation, as a commerce platform would send it. */
const sendCommerceEvent = async (id: string, type: string, data: unknown): Promise<number> => {
  const body = JSON.stringify({ type, timestamp: new Date().toISOString(), data })
  const signer = new Webhook(reveal(secrets.generated.relayWebhookSecret))
  const now = new Date()
  const response = await fetch(running.relayIngest, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": signer.sign(id, now, body)
    },
    body
  })
  await response.arrayBuffer()
  return response.status
}

const orderQuery = `query Order($n: ID!) {
  order(orderNumber: $n) { orderNumber lines { orderLineId state remoteStatus downloadUrl } }
}`

beforeAll(async () => {
  // The command under test is the built one; build it (turbo has built its dependencies).

  subscriberServer = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") })
      response.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => subscriberServer.listen(0, "127.0.0.1", resolve))
  const address: AddressInfo | string | null = subscriberServer.address()
  if (address === null || typeof address === "string") throw new Error("subscriber has no TCP address")
  subscriberUrl = `http://127.0.0.1:${address.port}/hooks`

  launcher = await startLauncher(launcherEnv())
  running = launcher.running
  secrets = launcher.secrets
}, 180_000)

afterAll(async () => {
  await launcher?.kill()
  await new Promise<void>((resolve) =>
    subscriberServer === undefined ? resolve() : subscriberServer.close(() => resolve())
  )
  rmSync(root, { recursive: true, force: true })
})

describe("npm start: the whole product in one process", () => {
  it("announces where everything is and keeps the generated secrets in a private file", async () => {
    expect(running.secretsFile).toBe(join(dataDir, "launcher.json"))
    expect(statSync(running.secretsFile).mode & 0o777).toBe(0o600)
    // Private at rest: DATA_DIR and the SQLite database with its WAL files are the owner's only.
    expect(statSync(dataDir).mode & 0o777).toBe(0o700)
    for (const file of ["hlconnect.db", "hlconnect.db-wal", "hlconnect.db-shm"])
      expect(statSync(join(dataDir, file)).mode & 0o777, file).toBe(0o600)
    expect(reveal(secrets.generated.relaySecretsKey)).toMatch(/^rsk_/)
    expect(secrets.endpoints).toEqual({ graphql: running.graphql, relayIngest: running.relayIngest, sandbox: true })
    expect(reveal(secrets.generated.relayWebhookSecret)).toMatch(/^whsec_/)
    expect(running.demoSubscriber).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/events$/)
    expect(running.demoCommand).toContain("demo.js")
    // Every app answers on its own port.
    for (const url of running.metrics) {
      const response = await fetch(url)
      expect(response.status, url).toBe(200)
      await response.text()
    }
    if (running.sandboxDocs === null) throw new Error("the sandbox should run")
    const docs = await fetch(running.sandboxDocs)
    expect(docs.status).toBe(200)
    await docs.text()
  })

  it("validate → pay → register → reconcile → signed order.completed → order and a fresh download URL in GraphQL", async () => {
    const created = await fetch(`${running.relayAdmin}/subscribers`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${reveal(secrets.generated.relayAdminToken)}`,
        "content-type": "application/json"
      },
      body: JSON.stringify({ url: subscriberUrl, events: ["*"] })
    })
    expect(created.status).toBe(201)
    subscriberSecret = Schema.decodeUnknownSync(CreatedSubscriber)(await created.json()).secret

    const validate = `mutation V($input: ValidatePurchaseInput!) {
        validatePurchase(input: $input) { __typename ... on ValidationToken { token expiresAt } }
      }`
    const orderNumber = String(Date.now())
    const lines: Array<Record<string, string | number>> = []
    for (const [i, assetId] of [4000, 4002].entries()) {
      const answer = await graphql(ValidateAnswer, validate, {
        input: { assetId, customerIp: "192.0.2.1", quantity: 1 }
      })
      const validation = answer.data.validatePurchase
      validationTokens.push(validation.token)
      lines.push(paidLine(i + 1, assetId, validation))
    }
    const paid = {
      order_number: orderNumber,
      customer: { name: "E2E Customer", email: "e2e@example.com" },
      currency: "USD",
      lines
    }
    expect(await sendCommerceEvent(`msg_e2e_paid_${orderNumber}`, "order.paid", paid)).toBe(202)

    // The reconciler completes both lines against the sandbox; the relay delivers the events.
    const completed = await waitFor("order.completed for both lines", () => {
      const one = delivery(orderNumber, "order.completed", "1")
      const two = delivery(orderNumber, "order.completed", "2")
      return one !== undefined && two !== undefined ? [one, two] : undefined
    })
    expect(completed.map((d) => d.data.line.state)).toEqual(["completed", "completed"])
    expect(new Set(completed.map((d) => d.sequence)).size).toBe(2)

    const order = await graphql(OrderAnswer, orderQuery, { n: orderNumber })
    expect(order.data.order.lines.map((l) => [l.orderLineId, l.state, l.remoteStatus])).toEqual([
      ["1", "completed", "COMPLETED"],
      ["2", "completed", "COMPLETED"]
    ])
    for (const line of order.data.order.lines) {
      expect(line.downloadUrl).toMatch(/\/nf\/download\/[0-9a-f]{32}$/)
      if (line.downloadUrl === null) continue
      downloadUrls.push(line.downloadUrl)
      // Fresh: the sandbox serves it right now.
      const file = await fetch(line.downloadUrl)
      expect(file.status).toBe(200)
      await file.arrayBuffer()
    }

    // Refund line 2: HL Connect cancels it, the subscriber hears of it, GraphQL shows it.
    expect(
      await sendCommerceEvent(`msg_e2e_refund_${orderNumber}`, "order.refunded", {
        order_number: orderNumber,
        order_line_ids: [2]
      })
    ).toBe(202)
    const cancelled = await waitFor("order.cancelled for line 2", () => delivery(orderNumber, "order.cancelled", "2"))
    expect(cancelled.data.line.state).toBe("cancelled")
    const after = await waitFor("line 2 cancelled at HL Connect", async () => {
      const answer = await graphql(OrderAnswer, orderQuery, { n: orderNumber })
      return answer.data.order.lines.find((l) => l.orderLineId === "2")?.remoteStatus === "CANCELLED"
        ? answer
        : undefined
    })
    expect(after.data.order.lines.map((l) => [l.orderLineId, l.state])).toEqual([
      ["1", "completed"],
      ["2", "cancelled"]
    ])
    expect(delivery(orderNumber, "order.cancelled", "1")).toBeUndefined()
  }, 240_000)

  it("the printed demo command sends a signed order.paid that completes, and the demo subscriber logs it", async () => {
    const demo = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const run = spawn(process.execPath, [join(packageDir, "dist/demo.js")], {
        cwd: packageDir,
        env: { ...cleanEnv(), DATA_DIR: dataDir, LOG_FORMAT: "json", DEMO_TIMEOUT: "90 seconds" }
      })
      let out = ""
      run.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString()
      })
      run.stderr.on("data", (chunk: Buffer) => {
        out += chunk.toString()
      })
      run.on("exit", (code) => resolve({ code, out }))
    })
    expect(demo.code, demo.out).toBe(0)
    expect(demo.out).toMatch(/Sent a signed order\.paid for order (\d+): the relay answered 202/)
    expect(demo.out).toMatch(/line 1: .*completed/)
    expect(demo.out).not.toMatch(/\/nf\/(download|view)\//)
    const orderNumber = /order (\d+): the relay answered/.exec(demo.out)?.[1] ?? ""
    // The launcher's own subscriber verified the delivery and logged it (order, type, sequence).
    await waitFor("the demo subscriber's log line", () =>
      launcher.output.stdout
        .split("\n")
        .some((l) => l.includes("demo subscriber received order.completed") && l.includes(orderNumber))
        ? true
        : undefined
    )
  }, 180_000)

  it("SIGTERM shuts everything down cleanly with exit code 0", async () => {
    launcher.child.kill("SIGTERM")
    const exit = await Promise.race([launcher.exited, sleep(60_000).then(() => undefined)])
    expect(exit, "the launcher did not exit within 60 s of SIGTERM").toEqual({ code: 0, signal: null })
    for (const app of ["graphql", "relay", "reconciler", "sandbox", "demo-subscriber"]) {
      expect(
        launcher.output.stdout
          .split("\n")
          .some((l) => l.includes('"HTTP server closed"') && l.includes(`"app":"${app}"`)),
        `${app} closed its server`
      ).toBe(true)
    }
  }, 90_000)

  it("the logs hold no secret, validation token or download/view URL", () => {
    const logs = `${launcher.output.stdout}\n${launcher.output.stderr}`
    const generated = Object.values(secrets.generated).map((s) => reveal(s))
    const forbidden = [...generated, subscriberSecret, ...validationTokens, ...downloadUrls]
    expect(forbidden.length).toBeGreaterThan(8)
    for (const secret of forbidden) expect(logs.includes(secret), "a secret in the logs").toBe(false)
    expect(logs).not.toMatch(/\/nf\/(download|view)\//)
    expect(logs).not.toMatch(/whsec_/)
    // Nothing failed along the way.
    expect(launcher.output.stdout.split("\n").filter((l) => l.includes('"logLevel":"ERROR"'))).toEqual([])
  })
})
