import { assert, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"

// The fixture runs in its own Node process (stdout is a pipe, so logs are JSON) through tsx's loader.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
const fixture = fileURLToPath(new URL("./fixtures/slow-server.ts", import.meta.url))

interface LogEntry {
  readonly message: unknown
  readonly logLevel: string
  readonly annotations: Record<string, unknown>
}

interface RunningFixture {
  readonly child: ChildProcess
  readonly logs: Array<LogEntry>
  readonly exited: Promise<number | null>
  readonly waitForLog: (predicate: (entry: LogEntry) => boolean) => Promise<LogEntry>
}

const startFixture = (env: Record<string, string>): RunningFixture => {
  const child = spawn(process.execPath, ["--import", tsxLoader, fixture], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const logs: Array<LogEntry> = []
  const waiters: Array<() => void> = []
  let pending = ""
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk
    const lines = pending.split("\n")
    pending = lines.pop() ?? ""
    // Every stdout line must be one JSON log entry; JSON.parse throws (and fails the test) otherwise.
    for (const line of lines) if (line !== "") logs.push(JSON.parse(line))
    for (const wake of waiters.splice(0)) wake()
  })
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      resolve(code)
      for (const wake of waiters.splice(0)) wake()
    })
  )
  const waitForLog = async (predicate: (entry: LogEntry) => boolean): Promise<LogEntry> => {
    for (;;) {
      const found = logs.find(predicate)
      if (found !== undefined) return found
      if (child.exitCode !== null) throw new Error(`fixture exited before the expected log: ${JSON.stringify(logs)}`)
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  return { child, logs, exited, waitForLog }
}

// Entries logged with extra values have an array message whose first element is the text.
const messageText = (entry: LogEntry): string => String(Array.isArray(entry.message) ? entry.message[0] : entry.message)

const messageIncludes = (text: string) => (entry: LogEntry) => messageText(entry).includes(text)

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

// Each case runs its own child process, so they can run side by side.
describe.concurrent("graceful shutdown", () => {
  it("SIGTERM lets the in-flight request finish, refuses new connections and exits 0", async () => {
    const fixture = startFixture({ SHUTDOWN_GRACE: "5 seconds" })
    try {
      const listening = await fixture.waitForLog(messageIncludes("listening on http://127.0.0.1:"))
      assert.strictEqual(listening.annotations.service, "slow-fixture")
      const url = messageText(listening).replace("listening on ", "")

      const slow = fetch(`${url}/slow`).then(async (response) => ({
        status: response.status,
        body: await response.text()
      }))
      await sleep(300)
      fixture.child.kill("SIGTERM")
      await fixture.waitForLog(messageIncludes("shutting down HTTP server"))

      const refused = await fetch(`${url}/health/live`).then(
        () => false,
        () => true
      )
      assert.isTrue(refused, "new connections must be refused while draining")
      assert.deepStrictEqual(await slow, { status: 200, body: "done" })
      assert.strictEqual(await fixture.exited, 0)
      assert.isDefined(fixture.logs.find(messageIncludes("HTTP server closed")))
    } finally {
      fixture.child.kill("SIGKILL")
    }
  })

  it("requests still running when SHUTDOWN_GRACE elapses are cut off, and the process still exits 0", async () => {
    const fixture = startFixture({ SHUTDOWN_GRACE: "200 millis" })
    try {
      const listening = await fixture.waitForLog(messageIncludes("listening on http://127.0.0.1:"))
      const url = messageText(listening).replace("listening on ", "")
      const slow = fetch(`${url}/slow`).then(
        () => "answered",
        () => "cut off"
      )
      await sleep(300)
      fixture.child.kill("SIGTERM")
      assert.strictEqual(await slow, "cut off")
      assert.strictEqual(await fixture.exited, 0)
      const warning = fixture.logs.find(messageIncludes("shutdown grace period elapsed"))
      assert.strictEqual(warning?.logLevel, "WARN")
    } finally {
      fixture.child.kill("SIGKILL")
    }
  })

  it("invalid configuration is reported clearly and exits 1", async () => {
    const fixture = startFixture({ PORT: "abc", SHUTDOWN_GRACE: "soon" })
    try {
      assert.strictEqual(await fixture.exited, 1)
      const report = fixture.logs.find(messageIncludes("Invalid configuration:"))
      assert.isDefined(report)
      assert.strictEqual(report?.logLevel, "ERROR")
      assert.strictEqual(
        report?.message,
        [
          "Invalid configuration:",
          '  - PORT: Expected an integer between 0 and 65535, got "abc"',
          '  - SHUTDOWN_GRACE: Expected a duration but received "soon"'
        ].join("\n")
      )
    } finally {
      fixture.child.kill("SIGKILL")
    }
  })
})
