import { Effect, Layer, ManagedRuntime, Tracer } from "effect"
import { makeObserver } from "../dist/Observability.js"

const N = Number(process.env.N ?? 100000)
const builtIn = Effect.runSync(Effect.tracer)
const copy = Tracer.make({ span: builtIn.span, context: builtIn.context })
const rtCore = ManagedRuntime.make(Layer.empty)
const rtSpans = ManagedRuntime.make(Layer.setTracer(copy))
await rtCore.runPromise(Effect.void)
await rtSpans.runPromise(Effect.void)
const observer = makeObserver("purchaseInfo", "GET")
const body = Effect.flatMap(Effect.serviceOption(Tracer.ParentSpan), () => Effect.succeed(1))
const cases: Record<string, () => Effect.Effect<unknown>> = {
  bare: () => body,
  observer: () => observer.call(body),
  withSpan: () => Effect.withSpan(body, "x", { kind: "client", captureStackTrace: false }),
  useSpanOnly: () => Effect.useSpan("x", { kind: "client", captureStackTrace: false }, () => body),
  withParentSpan: () => Effect.withParentSpan(body, Tracer.externalSpan({ spanId: "a", traceId: "b" })),
  onExit: () => Effect.onExit(body, () => Effect.void)
}
const measure = async (rt: typeof rtCore, make: () => Effect.Effect<unknown>) => {
  for (let i = 0; i < 20000; i++) await rt.runPromise(make())
  const cpu = process.cpuUsage()
  for (let i = 0; i < N; i++) await rt.runPromise(make())
  const u = process.cpuUsage(cpu)
  return (u.user + u.system) / N
}
for (let round = 0; round < 3; round++) {
  const row: Array<string> = []
  for (const [name, make] of Object.entries(cases)) {
    const a = await measure(rtCore, make)
    const b = await measure(rtSpans, make)
    row.push(`${name} ${a.toFixed(2)}/${b.toFixed(2)}`)
  }
  console.log(row.join(" | "))
}
