/**
 * `hlconnect-contract` as a user runs it: the BUILT command as a child process, over real HTTP,
 * against our sandbox, a deliberately drifted HL Connect (a proxy in front of a real sandbox
 * that rewrites the catalog), an unreachable one and one that refuses every token.
 */
import { type RunningSandbox, freePort, startSandbox } from "@hlconnect/sandbox"
import { Redacted } from "effect"
import { execFile } from "node:child_process"
import { createServer, type Server } from "node:http"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const bin = fileURLToPath(new URL("../dist/main.js", import.meta.url))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the command with no HLCONNECT_* of the caller's environment, plus `env`. */
const contract = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}): Promise<Run> => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("HLCONNECT_")))
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...clean, ...env }, timeout: 80_000 },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })
      }
    )
  })
}

interface JsonReport {
  readonly baseUrl: string
  readonly environment: string | null
  readonly checks: ReadonlyArray<{ readonly name: string; readonly result: string; readonly reason: string }>
  readonly drift: ReadonlyArray<{
    readonly severity: string
    readonly kind: string
    readonly endpoint: string
    readonly status: number | null
    readonly path: string
    readonly detail: string
    readonly count: number
  }>
  readonly verdict: string
  readonly error?: string
}

const parse = (run: Run): JsonReport => JSON.parse(run.stdout)

const listen = (server: Server): Promise<string> =>
  new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve(`http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`)
    })
  })

const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()))

type Asset = Record<string, unknown>

/**
 * HL Connect's answers, forwarded to `sandbox`, with each catalog asset rewritten by `drift`.
 * Everything else (statuses, headers, bodies) passes as sent.
 */
const driftedProxy = (sandbox: RunningSandbox, drift: (asset: Asset) => Asset): Server =>
  createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", async () => {
      const headers: Record<string, string> = {}
      for (const name of ["authorization", "accept", "content-type"]) {
        const value = request.headers[name]
        if (typeof value === "string") headers[name] = value
      }
      const body = Buffer.concat(chunks)
      const answer = await fetch(`${sandbox.url}${request.url ?? "/"}`, {
        method: request.method ?? "GET",
        headers,
        ...(body.length > 0 ? { body } : {})
      })
      let text = await answer.text()
      if ((request.url ?? "").startsWith("/assets/list") && answer.status === 200) {
        const page = JSON.parse(text) as { assets: ReadonlyArray<Asset> }
        text = JSON.stringify({ ...page, assets: page.assets.map(drift) })
      }
      const forwarded: Record<string, string> = {}
      for (const name of ["content-type", "x-environment"]) {
        const value = answer.headers.get(name)
        if (value !== null) forwarded[name] = value
      }
      response.writeHead(answer.status, forwarded)
      response.end(text)
    })
  })

/** `title` → `name`, `page_count` as a string, a new `isbn`, and `code` added to each instrument. */
const breakingDrift = (asset: Asset): Asset => {
  const { title, page_count, instruments, ...rest } = asset
  return {
    ...rest,
    name: title,
    page_count: String(page_count),
    isbn: "979-0-9000000-0-0",
    instruments: (instruments as ReadonlyArray<Asset>).map((i) => ({ ...i, code: "X1" }))
  }
}

/** Additions, and a null the client tolerates (`description` is not nullable in the spec): warnings only. */
const additiveDrift = (asset: Asset): Asset => ({
  ...asset,
  description: null,
  isbn: "979-0-9000000-0-0",
  instruments: (asset.instruments as ReadonlyArray<Asset>).map((i) => ({ ...i, code: "X1" }))
})

const rowsOf = (report: JsonReport) => report.drift.map((d) => `${d.severity} ${d.kind} ${d.endpoint} ${d.path}`).sort()

// Each case is its own child process and server: they run side by side.
describe.concurrent("hlconnect-contract", { timeout: 90_000 }, () => {
  let sandbox: RunningSandbox
  const servers: Array<Server> = []
  const serve = async (server: Server) => {
    servers.push(server)
    return listen(server)
  }

  beforeAll(async () => {
    sandbox = await startSandbox()
  })
  afterAll(async () => {
    await Promise.all(servers.map(close))
    await sandbox.close()
  })

  it("with no environment checks our sandbox in-process: every check passes, no drift, exit 0", async () => {
    const run = await contract(["--json"])
    const report = parse(run)
    expect(run.code).toBe(0)
    expect(report.verdict).toBe("pass")
    expect(report.environment).toBe("sandbox")
    expect(report.drift).toEqual([])
    expect(report.checks.map((c) => c.name)).toEqual([
      "health",
      "a wrong token is refused",
      "catalog pages decode",
      "validate before payment",
      "info of an unknown order is 404",
      "download-url of an unknown order is 404",
      "view-url of an unknown order is 404",
      "cancel of an unknown order is 404"
    ])
    expect(report.checks.filter((c) => c.result !== "PASS")).toEqual([])
  })

  it("--purchase registers a test order, polls it, fetches its URLs without printing them, cancels it: exit 0", async () => {
    const run = await contract(["--json", "--purchase"])
    const report = parse(run)
    expect(run.code).toBe(0)
    expect(report.drift).toEqual([])
    expect(report.checks.filter((c) => c.result !== "PASS")).toEqual([])
    const names = report.checks.map((c) => c.name)
    expect(names.some((n) => /^register test order \d{10,11}$/.test(n))).toBe(true)
    expect(names).toEqual(expect.arrayContaining(["info polled to the end", "download-url", "view-url"]))
    // The plan goes to stderr with --json, so stdout stays one JSON document.
    expect(run.stderr).toMatch(/--purchase: registering test order \d+ line 1/)
    // Download and view URLs are credentials: only that one came, and its host.
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/\/nf\/(download|view)\//)
    expect(report.checks.find((c) => c.name === "download-url")?.reason).toMatch(
      /^a URL came: host 127\.0\.0\.1:\d+, http$/
    )
  })

  it("reports a drifted catalog — a renamed field, a changed type, new fields — and exits 1 on the breaking one", async () => {
    const url = await serve(driftedProxy(sandbox, breakingDrift))
    const run = await contract(["--json", "--max-pages", "2"], {
      HLCONNECT_BASE_URL: url,
      HLCONNECT_TOKEN: "sandbox-test-token-6f1c2a"
    })
    const report = parse(run)
    expect(run.code).toBe(1)
    expect(report.verdict).toBe("fail")
    expect(report.baseUrl).toBe(`${url}/`)
    expect(rowsOf(report)).toEqual([
      "breaking wrong-type GET /assets/list assets[].page_count",
      "warning never-seen GET /assets/list assets[].title",
      "warning unknown-field GET /assets/list assets[].instruments[].code",
      "warning unknown-field GET /assets/list assets[].isbn",
      "warning unknown-field GET /assets/list assets[].name"
    ])
    const pageCount = report.drift.find((d) => d.path === "assets[].page_count")
    expect(pageCount).toMatchObject({ status: 200, count: 40, detail: "expected Int | null, got string" })
    expect(report.drift.find((d) => d.path === "assets[].name")).toMatchObject({
      count: 40,
      detail: "not in AssetItem (string)"
    })
    // The core model does not decode the page either: the catalog check fails too.
    expect(report.checks.find((c) => c.name === "catalog pages decode")).toMatchObject({ result: "FAIL" })
  })

  it("additions and a tolerated null are warnings: shown in the table, exit 0", async () => {
    const url = await serve(driftedProxy(sandbox, additiveDrift))
    const run = await contract(["--base-url", url, "--max-pages", "1"], {
      HLCONNECT_TOKEN: "sandbox-test-token-6f1c2a"
    })
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/catalog pages decode\s+PASS/)
    expect(run.stdout).toMatch(
      /WARNING\s+GET \/assets\/list\s+200\s+assets\[\]\.instruments\[\]\.code\s+unknown-field\s+\d+\s+not in InstrumentItem \(string\)/
    )
    expect(run.stdout).toMatch(
      /WARNING\s+GET \/assets\/list\s+200\s+assets\[\]\.isbn\s+unknown-field\s+20\s+not in AssetItem \(string\)/
    )
    expect(run.stdout).toMatch(
      /WARNING\s+GET \/assets\/list\s+200\s+assets\[\]\.description\s+unexpected-null\s+20\s+null where the spec does not allow it \(the client reads it as absent\)/
    )
    expect(run.stdout.match(/^(WARNING|BREAKING) /gm)).toHaveLength(3)
    expect(run.stdout).toMatch(/Verdict: PASS — 8\/8 checks passed, 0 breaking, 3 warning\(s\) \(exit 0\)/)
  })

  it("exits 2 when HL Connect is unreachable", async () => {
    const port = await freePort()
    const run = await contract(["--json"], {
      HLCONNECT_BASE_URL: `http://127.0.0.1:${port}`,
      HLCONNECT_TOKEN: "any-token"
    })
    expect(run.code).toBe(2)
    expect(parse(run)).toMatchObject({ verdict: "cannot-run", checks: [], drift: [] })
    expect(run.stderr).toMatch(/could not run: GET \/health: no answer from http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/)
  })

  it("exits 2 when the token is refused (401 on everything), on an invalid configuration or flag, and for --purchase against production", async () => {
    const url = await serve(
      createServer((_request, response) => {
        response.writeHead(401, { "content-type": "application/json" })
        response.end(JSON.stringify({ name: "Unauthorized", message: "invalid token", code: 401, status: 401 }))
      })
    )
    const [refused, invalid, noToken, badFlag, production] = await Promise.all([
      contract(["--json"], { HLCONNECT_BASE_URL: url, HLCONNECT_TOKEN: "refused-token" }),
      contract(["--json"], { HLCONNECT_BASE_URL: "not a url", HLCONNECT_TOKEN: "t" }),
      contract([], { HLCONNECT_BASE_URL: url }),
      contract(["--max-pages", "0"], { HLCONNECT_BASE_URL: url, HLCONNECT_TOKEN: "t" }),
      contract(["--purchase", "--base-url", "https://hlconnect-api.mu.se"], { HLCONNECT_TOKEN: "t" })
    ])
    expect(production.code).toBe(2)
    expect(production.stderr).toMatch(/--purchase registers a test order: refused against production/)
    expect(badFlag.code).toBe(2)
    expect(refused.code).toBe(2)
    expect(parse(refused).error).toMatch(/refused the given token \(401\)/)
    expect(invalid.code).toBe(2)
    expect(parse(invalid).error).toMatch(/HLCONNECT_BASE_URL/)
    expect(noToken.code).toBe(2)
    expect(noToken.stderr).toMatch(/no token: set HLCONNECT_TOKEN/)
  })

  it("never prints the token: not from the environment, not from --token, not when refused", async () => {
    const token = "RECOGNISABLE-secret-token-7d3e9f01"
    const own = await startSandbox({ accessTokens: [Redacted.make(token)] })
    try {
      const [fromFlag, refused] = await Promise.all([
        contract(["--purchase", "--base-url", own.url, "--token", token]),
        contract([], { HLCONNECT_BASE_URL: sandbox.url, HLCONNECT_TOKEN: token })
      ])
      expect(fromFlag.code).toBe(0)
      expect(refused.code).toBe(2)
      for (const run of [fromFlag, refused]) {
        expect(run.stdout).not.toContain(token)
        expect(run.stderr).not.toContain(token)
        expect(run.stdout).not.toContain("RECOGNISABLE")
      }
    } finally {
      await own.close()
    }
  })
})
