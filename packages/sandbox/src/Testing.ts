/**
 * For tests and benches of other packages: a real sandbox server on its own runtime (live
 * clock, so a test may put its client on a TestClock while the server keeps real time), and a
 * client layer pointed at it.
 */
import { HlConnect, type HlConnectOptions } from "@hlconnect/core"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { createServer } from "node:net"
import * as Sandbox from "./Sandbox.js"
import type { SandboxOptions } from "./SandboxConfig.js"
import { SandboxState } from "./SandboxState.js"

/** The bearer token `startSandbox` accepts (unless `accessTokens` says otherwise). */
export const SandboxToken = "sandbox-test-token-6f1c2a"

export interface RunningSandbox {
  readonly url: string
  readonly state: SandboxState
  /** Runs an effect of the sandbox's state on the sandbox's runtime. */
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  readonly close: () => Promise<void>
}

export const startSandbox = async (options: Partial<SandboxOptions> = {}): Promise<RunningSandbox> => {
  const runtime = ManagedRuntime.make(Sandbox.layerTest({ accessTokens: [Redacted.make(SandboxToken)], ...options }))
  const { url, state } = await runtime.runPromise(
    Effect.all({ url: Effect.map(Sandbox.SandboxServer, (s) => s.url), state: SandboxState })
  )
  return { url, state, run: (effect) => runtime.runPromise(effect), close: () => runtime.dispose() }
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
