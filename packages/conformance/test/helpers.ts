/**
 * Shared helpers of the contract tests: unique order numbers, sandbox stats and faults, a
 * validated purchase ready to register, and live waits that ignore a test's TestClock.
 */
import { EndpointNames, HlConnect, type HlConnectOptions, type PurchaseRegisterRequest } from "@hlconnect/core"
import { type FaultSettings, ScriptedFault, type SandboxStats } from "@hlconnect/sandbox"
import { assert } from "@effect/vitest"
import { Cause, type Context, Duration, Effect, Exit, Option, Tracer } from "effect"
import { clientLayer, type RunningSandbox } from "@hlconnect/sandbox"

let nextOrder = 100_000 + Math.floor(Math.random() * 1_000_000_000)
/** A fresh order number, unique across the tests of a run. */
export const orderNumber = () => nextOrder++

/** Waits on the wall clock, whatever clock the test runs on. */
export const liveSleep = (millis: number) =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

export const stats = (sandbox: RunningSandbox): Effect.Effect<SandboxStats> =>
  Effect.promise(() => sandbox.run(sandbox.state.stats))

export const reset = (sandbox: RunningSandbox) => Effect.promise(() => sandbox.run(sandbox.state.resetFaultsAndStats))

export const script = (
  sandbox: RunningSandbox,
  ...faults: ReadonlyArray<ConstructorParameters<typeof ScriptedFault>[0]>
) => Effect.promise(() => sandbox.run(sandbox.state.scriptFaults(faults.map((f) => ScriptedFault.make(f)))))

export const setFaults = (sandbox: RunningSandbox, settings: FaultSettings) =>
  Effect.promise(() => sandbox.run(sandbox.state.setFaults(settings)))

/** Requests the sandbox saw for an endpoint since the last reset. */
export const requestsTo = (sandbox: RunningSandbox, endpoint: string) =>
  Effect.map(stats(sandbox), (s) => s.requests[endpoint] ?? 0)

export const totalRequests = (sandbox: RunningSandbox) =>
  Effect.map(stats(sandbox), (s) => Object.values(s.requests).reduce((a, b) => a + b, 0))

/** Polls (on the wall clock) until `predicate` holds, failing the test after `timeoutMillis`. */
export const eventually = <A>(
  read: Effect.Effect<A>,
  predicate: (a: A) => boolean,
  timeoutMillis = 5_000
): Effect.Effect<A> =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMillis
    for (;;) {
      const value = yield* read
      if (predicate(value)) return value
      if (Date.now() > deadline)
        return yield* Effect.dieMessage(`condition not met within ${timeoutMillis} ms: ${JSON.stringify(value)}`)
      yield* liveSleep(10)
    }
  })

/** Runs `body` with a fresh client pointed at the sandbox. */
export const withClient = <A, E>(
  sandbox: RunningSandbox,
  options: Partial<HlConnectOptions>,
  body: (client: HlConnect) => Effect.Effect<A, E>
) => Effect.provide(Effect.flatMap(HlConnect, body), clientLayer(sandbox, options))

/** Fast retries, so wall time stays short. */
export const fastRetries = (maxAttempts = 3): Partial<HlConnectOptions> => ({
  maxAttempts,
  retryPolicies: Object.fromEntries(
    EndpointNames.map((name) => [name, { baseDelay: Duration.millis(5), maxDelay: Duration.millis(20) }])
  )
})

/** A purchase of `asset_id` validated from the US, ready to register as line 1 of a new order. */
export const validatedRegistration = (
  client: HlConnect,
  options: { readonly asset_id?: number; readonly quantity?: number; readonly unit_price?: number } = {}
) =>
  Effect.map(
    client.validatePurchase({
      asset_id: options.asset_id ?? 4000,
      customer_ip: "192.0.2.10",
      quantity: options.quantity ?? 1
    }),
    (token): typeof PurchaseRegisterRequest.Encoded => {
      const unit = options.unit_price ?? 3.99
      return {
        token: token.token,
        order_number: orderNumber(),
        order_line_id: 1,
        unit_price: unit,
        line_item_price: Math.round(unit * (options.quantity ?? 1) * 100) / 100,
        customer: "John Customer"
      }
    }
  )

type Tagged = { readonly _tag: string }

/** Narrows an error to one tag, failing the test with the actual error otherwise. */
export function assertTag<E extends Tagged, T extends E["_tag"]>(
  e: E,
  tag: T
): asserts e is Extract<E, { readonly _tag: T }> {
  assert.strictEqual(e._tag, tag, `expected ${tag}, got ${e._tag}: ${String(e)}`)
}

const hasTag =
  <T extends string>(tag: T) =>
  <E extends Tagged>(e: E): e is Extract<E, { readonly _tag: T }> =>
    e._tag === tag

/** The effect's failure, which must carry `tag`. */
export const failsWith = <A, E extends Tagged, R, T extends E["_tag"]>(
  effect: Effect.Effect<A, E, R>,
  tag: T
): Effect.Effect<Extract<E, { readonly _tag: T }>, never, R> =>
  Effect.flatMap(Effect.either(effect), (result) =>
    result._tag === "Left" && hasTag(tag)(result.left)
      ? Effect.succeed(result.left)
      : Effect.dieMessage(
          `expected a ${tag} failure, got ${result._tag === "Left" ? `${result.left._tag}: ${String(result.left)}` : `success ${JSON.stringify(result.right)}`}`
        )
  )

/** A span that remembers everything it was told, for tests that inspect spans. */
export class RecordedSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId = Math.random().toString(16).slice(2)
  readonly traceId: string
  readonly sampled = true
  status: Tracer.SpanStatus
  readonly attributes = new Map<string, unknown>()
  readonly events: Array<{ readonly name: string; readonly attributes: Record<string, unknown> | undefined }> = []
  links: Array<Tracer.SpanLink>
  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint,
    readonly kind: Tracer.SpanKind,
    options: Tracer.SpanOptions | undefined
  ) {
    this.traceId = Option.isSome(parent) ? parent.value.traceId : Math.random().toString(16).slice(2)
    this.status = { _tag: "Started", startTime }
    this.links = [...links]
    for (const [key, value] of Object.entries(options?.attributes ?? {})) this.attributes.set(key, value)
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }
  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
  }
  event(name: string, _startTime: bigint, attributes?: Record<string, unknown>): void {
    this.events.push({ name, attributes })
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.links.push(...links)
  }
  /** Everything about the span as text: name, attributes, events, and its exit. */
  describe(): string {
    const exit = this.status._tag === "Ended" ? this.status.exit : undefined
    return [
      this.name,
      JSON.stringify([...this.attributes].map(([k, v]) => [k, String(v)])),
      JSON.stringify(this.events),
      exit === undefined ? "" : Exit.isFailure(exit) ? Cause.pretty(exit.cause) : JSON.stringify(exit.value)
    ].join("\n")
  }
}

export const recordingTracer = () => {
  const spans: Array<RecordedSpan> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = new RecordedSpan(name, parent, context, links, startTime, kind, options)
      spans.push(span)
      return span
    },
    context: (f) => f()
  })
  return { spans, tracer }
}
