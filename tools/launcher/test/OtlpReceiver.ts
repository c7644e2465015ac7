/**
 * A real OTLP/HTTP traces receiver for tests: a node:http server on a free localhost port that
 * decodes every `POST /v1/traces` body with the OpenTelemetry proto definitions (the generated
 * protobufjs root of `@opentelemetry/otlp-transformer`, for `http/protobuf`) or as OTLP JSON
 * (`http/json`), checks the shape with Schema and keeps the spans.
 */
import { Schema } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { createRequire } from "node:module"

const AnyValue = Schema.Struct({
  stringValue: Schema.optional(Schema.String),
  intValue: Schema.optional(Schema.Union(Schema.String, Schema.Number)),
  boolValue: Schema.optional(Schema.Boolean),
  doubleValue: Schema.optional(Schema.Number)
})
const KeyValue = Schema.Struct({ key: Schema.String, value: Schema.optional(AnyValue) })
const WireSpan = Schema.Struct({
  traceId: Schema.String,
  spanId: Schema.String,
  parentSpanId: Schema.optional(Schema.String),
  name: Schema.String,
  kind: Schema.optional(Schema.Union(Schema.Number, Schema.String)),
  attributes: Schema.optional(Schema.Array(KeyValue)),
  links: Schema.optional(Schema.Array(Schema.Struct({ traceId: Schema.String, spanId: Schema.String })))
})
const ExportRequest = Schema.Struct({
  resourceSpans: Schema.optional(
    Schema.Array(
      Schema.Struct({
        resource: Schema.optional(Schema.Struct({ attributes: Schema.optional(Schema.Array(KeyValue)) })),
        scopeSpans: Schema.optional(Schema.Array(Schema.Struct({ spans: Schema.optional(Schema.Array(WireSpan)) })))
      })
    )
  )
})

export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  /** "" for a root span. */
  readonly parentSpanId: string
  readonly name: string
  readonly attributes: Readonly<Record<string, string>>
  readonly service: string
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>
}

const valueText = (value: typeof AnyValue.Type | undefined): string =>
  value === undefined ? "" : String(value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue ?? "")

const attributesOf = (list: ReadonlyArray<typeof KeyValue.Type> | undefined): Record<string, string> =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, valueText(kv.value)]))

/** protobufjs renders bytes as base64; OTLP JSON carries ids as hex already. */
const hexId = (id: string, encoding: "base64" | "hex"): string =>
  encoding === "hex" ? id.toLowerCase() : Buffer.from(id, "base64").toString("hex")

const field = (value: unknown, key: string): unknown =>
  (typeof value === "object" || typeof value === "function") && value !== null && key in value
    ? Object.getOwnPropertyDescriptor(value, key)?.value
    : undefined

/** `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest` of the generated root. */
const protoRequestType = (): { decode: (bytes: Uint8Array) => unknown; toObject: (message: unknown) => unknown } => {
  const root: unknown = createRequire(import.meta.url)("otlp-proto-root/build/src/generated/root.js")
  const type = ["opentelemetry", "proto", "collector", "trace", "v1", "ExportTraceServiceRequest"].reduce(field, root)
  const decode = field(type, "decode")
  const toObject = field(type, "toObject")
  if (typeof decode !== "function" || typeof toObject !== "function")
    throw new Error("the OTLP proto root has no ExportTraceServiceRequest")
  return {
    decode: (bytes) => decode.call(type, bytes),
    toObject: (message) => toObject.call(type, message, { longs: String, bytes: String, defaults: false })
  }
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string
  readonly spans: Array<ReceivedSpan>
  /** Export requests received, and their content types. */
  readonly requests: Array<string>
  readonly close: () => Promise<void>
}

export const start = async (): Promise<OtlpReceiver> => {
  const proto = protoRequestType()
  const spans: Array<ReceivedSpan> = []
  const requests: Array<string> = []
  const keep = (decoded: typeof ExportRequest.Type, encoding: "base64" | "hex") => {
    for (const rs of decoded.resourceSpans ?? []) {
      const service = attributesOf(rs.resource?.attributes)["service.name"] ?? ""
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          spans.push({
            traceId: hexId(s.traceId, encoding),
            spanId: hexId(s.spanId, encoding),
            parentSpanId: s.parentSpanId === undefined ? "" : hexId(s.parentSpanId, encoding),
            name: s.name,
            attributes: attributesOf(s.attributes),
            service,
            links: (s.links ?? []).map((l) => ({
              traceId: hexId(l.traceId, encoding),
              spanId: hexId(l.spanId, encoding)
            }))
          })
        }
      }
    }
  }
  const server: Server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const body = Buffer.concat(chunks)
      const type = request.headers["content-type"] ?? ""
      requests.push(type)
      try {
        if (request.url !== "/v1/traces") throw new Error(`unexpected path ${request.url}`)
        if (type.startsWith("application/x-protobuf")) {
          keep(Schema.decodeUnknownSync(ExportRequest)(proto.toObject(proto.decode(body))), "base64")
          response.writeHead(200, { "content-type": "application/x-protobuf" }).end()
        } else {
          keep(Schema.decodeUnknownSync(Schema.parseJson(ExportRequest))(body.toString("utf8")), "hex")
          response.writeHead(200, { "content-type": "application/json" }).end("{}")
        }
      } catch (error) {
        response.writeHead(400).end(String(error))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address: AddressInfo | string | null = server.address()
  if (address === null || typeof address === "string") throw new Error("the receiver has no TCP address")
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    spans,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
