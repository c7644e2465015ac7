/**
 * For the client benches: a local OTLP receiver that accepts and discards every export, and the
 * `Tracing` layer exporting every span to it — what "traced" means in `client.bench.ts`,
 * `profile-core.ts` and `traced-cost.ts`, made in one place.
 */
import { Tracing } from "@hlconnect/service"
import { Option, Redacted } from "effect"
import { createServer } from "node:http"

export interface OtlpSink {
  /** `Tracing` exporting every span (batched, parent-based always-on) to this sink. */
  readonly tracing: (protocol: Tracing.Protocol) => ReturnType<typeof Tracing.layerWith>
  readonly close: () => Promise<void>
}

export const startOtlpSink = async (serviceName = "client-bench"): Promise<OtlpSink> => {
  const receiver = createServer((req, res) => {
    req.resume()
    req.on("end", () => res.writeHead(200, { "content-type": "application/x-protobuf" }).end())
  })
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
  const address = receiver.address()
  const port = address !== null && typeof address === "object" ? address.port : 0
  return {
    tracing: (protocol) =>
      Tracing.layerWith(
        {
          _tag: "Otlp",
          url: `http://127.0.0.1:${port}/v1/traces`,
          protocol,
          headers: Redacted.make({}),
          serviceName: Option.some(serviceName),
          resourceAttributes: {},
          sampler: "parentbased_always_on",
          samplerArg: Option.none()
        },
        { defaultServiceName: serviceName }
      ),
    close: () => new Promise<void>((resolve) => receiver.close(() => resolve()))
  }
}
