/**
 * The sandbox as users start it: `node dist/main.js`, configured by the environment.
 */
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))

const launch = (env: Record<string, string>) => {
  // HOST only when a test sets it: the default bind address is under test.
  const { HOST: _host, ...inherited } = process.env
  const child = spawn(process.execPath, [main], {
    env: { ...inherited, LOG_FORMAT: "json", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout.on("data", (chunk) => {
    output += String(chunk)
  })
  child.stderr.on("data", (chunk) => {
    output += String(chunk)
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, exited, output: () => output }
}

const waitFor = async (predicate: () => string | undefined, timeoutMillis = 15_000) => {
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    const found = predicate()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error("timed out waiting")
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const stop = async (child: ChildProcess, exited: Promise<number | null>) => {
  child.kill("SIGTERM")
  return exited
}

describe("standalone sandbox", () => {
  it("serves HL Connect, its docs and ops routes, and shuts down cleanly on SIGTERM", async () => {
    const run = launch({ SANDBOX_TOKENS: "one,two" })
    const url = await waitFor(() => /ready at (http:\/\/[0-9.]+:\d+)/.exec(run.output())?.[1])
    expect((await fetch(`${url}/health`)).status).toBe(200)
    expect((await fetch(`${url}/assets/list`, { headers: { authorization: "Bearer two" } })).status).toBe(200)
    expect((await fetch(`${url}/assets/list`, { headers: { authorization: "Bearer three" } })).status).toBe(401)
    expect((await fetch(`${url}/health/ready`)).status).toBe(200)
    expect(await (await fetch(`${url}/metrics`)).text()).toContain("http_server_requests_total")
    const openapi = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> }
    expect(Object.keys(openapi.paths)).toContain("/purchase/register")
    expect((await fetch(`${url}/docs`)).headers.get("content-type")).toContain("text/html")
    expect(await stop(run.child, run.exited)).toBe(0)
    expect(run.output()).not.toContain("two")
  })

  it("binds loopback unless HOST says otherwise", async () => {
    const bound = async (env: Record<string, string>) => {
      const run = launch(env)
      const address = await waitFor(() => /listening on (http:\/\/\S+?:)\d+/.exec(run.output())?.[1])
      expect(await stop(run.child, run.exited)).toBe(0)
      return address
    }
    expect(await bound({})).toBe("http://127.0.0.1:")
    expect(await bound({ HOST: "0.0.0.0" })).toBe("http://0.0.0.0:")
  })

  it("refuses to start on bad configuration, naming the variable", async () => {
    const run = launch({ SANDBOX_ERROR_RATE: "2", PORT: "not-a-port" })
    expect(await run.exited).toBe(1)
    expect(run.output()).toContain("SANDBOX_ERROR_RATE")
  })
})
