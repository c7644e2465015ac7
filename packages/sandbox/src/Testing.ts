/**
 * For tests and benches — ours and those of services that install this package: a real sandbox
 * server on its own runtime (live clock, so a test may put its client on a TestClock while the
 * server keeps real time), and a client layer pointed at it. `startSandbox` takes and gives plain
 * values (strings, numbers, promises), so a test not written with Effect needs no `effect` import.
 */
import { HlConnect, type HlConnectOptions } from "@hlconnect/core"
import { Duration, Effect, Layer, ManagedRuntime, Redacted, Schema } from "effect"
import { createServer } from "node:net"
import { FaultSettings, ScriptedFault } from "./Faults.js"
import * as Sandbox from "./Sandbox.js"
import type { SandboxOptions } from "./SandboxConfig.js"
import { SandboxState } from "./SandboxState.js"

/** The bearer token `startSandbox` accepts (unless `accessTokens` says otherwise). */
export const SandboxToken = "sandbox-test-token-6f1c2a"

/** `SandboxOptions`, with tokens as plain strings and durations as milliseconds or `"2 seconds"` allowed. */
export interface StartSandboxOptions
  extends Omit<Partial<SandboxOptions>, "accessTokens" | "fulfilmentDelay" | "validationTokenTtl" | "urlTtl"> {
  /** Default: `[SandboxToken]`. */
  readonly accessTokens?: ReadonlyArray<string | Redacted.Redacted<string>>
  readonly fulfilmentDelay?: Duration.DurationInput
  readonly validationTokenTtl?: Duration.DurationInput
  readonly urlTtl?: Duration.DurationInput
}

export interface RunningSandbox {
  readonly url: string
  /** The first accepted token, to give the client under test ("" when `accessTokens` was empty). */
  readonly token: string
  readonly state: SandboxState
  /**
   * Queues faults that fire once each, in order, on the next matching requests (as
   * `POST /_sandbox/faults/script` does): `[{ kind: "unavailable503", endpoint: "registerPurchase" }]`.
   * Rejects, changing nothing, when a fault does not decode as a `ScriptedFault`.
   */
  readonly scriptFaults: (faults: ReadonlyArray<typeof ScriptedFault.Encoded>) => Promise<void>
  /** Replaces the fault rates (`{ error_rate: 0.1 }`); rejects, changing nothing, on invalid settings. */
  readonly setFaults: (settings: typeof FaultSettings.Encoded) => Promise<void>
  /** Runs an effect of the sandbox's state on the sandbox's runtime. */
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  readonly close: () => Promise<void>
}

const toRedacted = (token: string | Redacted.Redacted<string>) =>
  typeof token === "string" ? Redacted.make(token) : token

const toSandboxOptions = (options: StartSandboxOptions): Partial<SandboxOptions> => {
  const { accessTokens, fulfilmentDelay, validationTokenTtl, urlTtl, ...rest } = options
  const out: { -readonly [K in keyof SandboxOptions]?: SandboxOptions[K] } = {
    ...rest,
    accessTokens: (accessTokens ?? [SandboxToken]).map(toRedacted)
  }
  if (fulfilmentDelay !== undefined) out.fulfilmentDelay = Duration.decode(fulfilmentDelay)
  if (validationTokenTtl !== undefined) out.validationTokenTtl = Duration.decode(validationTokenTtl)
  if (urlTtl !== undefined) out.urlTtl = Duration.decode(urlTtl)
  return out
}

const decodeScript = Schema.decodeUnknown(Schema.Array(ScriptedFault))
const decodeSettings = Schema.decodeUnknown(FaultSettings)

/** A sandbox on an ephemeral loopback port, for a test: `await startSandbox()` … `await sandbox.close()`. */
export const startSandbox = async (options: StartSandboxOptions = {}): Promise<RunningSandbox> => {
  const sandboxOptions = toSandboxOptions(options)
  const runtime = ManagedRuntime.make(Sandbox.layerTest(sandboxOptions))
  const { url, state } = await runtime.runPromise(
    Effect.all({ url: Effect.map(Sandbox.SandboxServer, (s) => s.url), state: SandboxState })
  )
  const first = sandboxOptions.accessTokens?.[0]
  return {
    url,
    token: first === undefined ? "" : Redacted.value(first),
    state,
    scriptFaults: (faults) => runtime.runPromise(Effect.flatMap(decodeScript(faults), state.scriptFaults)),
    setFaults: (settings) => runtime.runPromise(Effect.flatMap(decodeSettings(settings), state.setFaults)),
    run: (effect) => runtime.runPromise(effect),
    close: () => runtime.dispose()
  }
}

/** The client layer pointed at a running sandbox. */
export const clientLayer = (sandbox: { readonly url: string }, options: Partial<HlConnectOptions> = {}) =>
  HlConnect.Default({ baseUrl: sandbox.url, accessToken: Redacted.make(SandboxToken), ...options })

/** `clientLayer`, fresh for each use (its own connection pool). */
export const provideClient = (sandbox: { readonly url: string }, options: Partial<HlConnectOptions> = {}) =>
  Layer.fresh(clientLayer(sandbox, options))

/** A TCP port free on 127.0.0.1 right now, for a child process that must be told its port up front. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
    server.on("error", reject)
  })
