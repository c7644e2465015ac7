/**
 * The floor server for client benches: a canned `node:http` responder that answers
 * `GET /purchase/info` with the body the sandbox sends for a completed one-line order (the same
 * 11 fields, decoded through the `OrderItem` model at start-up), and `/health/live`. It does no
 * per-request work beyond checking the bearer token, so a bench that hits it measures the client,
 * not the server: `node dist/bench/floor.js` with `PORT` and `SANDBOX_TOKENS` (one token).
 */
import { OrderItem } from "@hlconnect/core"
import { Schema } from "effect"
import { createServer } from "node:http"

const port = Number(process.env.PORT ?? 0)
const token = process.env.SANDBOX_TOKENS ?? "sandbox-token"
const base = `http://127.0.0.1:${port}`
// Placeholder URL ids of the sandbox's length: nothing behind them, nothing to leak.
const placeholderId = "0".repeat(32)

const items = Schema.decodeUnknownSync(Schema.Array(OrderItem))([
  {
    order_id: 910_001,
    order_line_id: 1,
    asset_id: 4000,
    customer: "Bench Customer",
    unit_price: 3.99,
    line_item_price: 3.99,
    quantity: 1,
    country_code: "DE",
    download_url: `${base}/nf/download/${placeholderId}`,
    view_url: `${base}/nf/view/${placeholderId}`,
    status: "COMPLETED"
  }
])
const body = Buffer.from(JSON.stringify(Schema.encodeSync(Schema.Array(OrderItem))(items)))
const authorization = `Bearer ${token}`
const json = { "content-type": "application/json", "content-length": String(body.length), "x-environment": "sandbox" }

const server = createServer((request, response) => {
  const path = request.url?.split("?", 1)[0]
  if (path === "/health/live") {
    response.writeHead(200, { "content-length": "0" }).end()
  } else if (request.headers.authorization !== authorization) {
    response.writeHead(401, { "content-length": "0" }).end()
  } else if (request.method === "GET" && path === "/purchase/info") {
    response.writeHead(200, json).end(body)
  } else {
    response.writeHead(404, { "content-length": "0" }).end()
  }
})
server.keepAliveTimeout = 60_000
server.listen(port, "127.0.0.1")
const stop = () => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
