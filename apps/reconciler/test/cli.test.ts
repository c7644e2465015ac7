/**
 * The `reconcile` binary (dist/main.js) as a child process: exit codes usable from cron, the
 * stored report, and two replicas on one PostgreSQL sharing the work without overlap.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { FaultSettings } from "@hlconnect/sandbox"
import { SqlClient } from "@effect/sql/SqlClient"
import { OrderLines, Store } from "@hlconnect/store"
import { Duration, Effect, Redacted, Schedule } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { dropSchema, postgresUrl, seedPaid, uniqueSchema } from "./support/env.js"
import { type RunningSandbox, SandboxToken, startSandbox } from "@hlconnect/sandbox"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
let sandbox: RunningSandbox
const dataDir = mkdtempSync(join(tmpdir(), "reconciler-cli-"))

beforeAll(async () => {
  // The binary under test is the built one.
  execFileSync(
    process.execPath,
    [join(packageDir, "../../node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
    { cwd: packageDir }
  )
  sandbox = await startSandbox({ fulfilmentDelay: Duration.zero })
}, 60_000)
afterAll(async () => {
  await sandbox.close()
  rmSync(dataDir, { recursive: true, force: true })
})

interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const baseEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "DATABASE_URL") env[k] = v
  return {
    ...env,
    HLCONNECT_BASE_URL: sandbox.url,
    HLCONNECT_TOKEN: SandboxToken,
    FULFILMENT_FIRST_CHECK: "0 millis",
    FULFILMENT_MAX_CHECK_DELAY: "0 millis",
    FULFILMENT_RETRY_DELAY: "0 millis",
    LOG_LEVEL: "warning"
  }
}

const reconcile = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.promise(
    () =>
      new Promise<CliResult>((resolve) => {
        const child = spawn(process.execPath, [join(packageDir, "dist/main.js"), ...args], { cwd: packageDir, env })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (c: Buffer) => {
          stdout += c.toString()
        })
        child.stderr.on("data", (c: Buffer) => {
          stderr += c.toString()
        })
        child.on("exit", (code) => resolve({ code, stdout, stderr }))
      })
  )

/** The summary / report a command printed (the fields the tests read). */
interface Printed {
  readonly runId?: string
  readonly kind?: string
  readonly status?: string
  readonly examined?: number
  readonly needsAttention?: number
  readonly error?: string | null
  readonly transitions?: Readonly<Record<string, number>>
  readonly orders?: ReadonlyArray<string>
}

const lastJson = (result: CliResult | undefined): Printed => {
  const line = result?.stdout.trim().split("\n").pop() ?? ""
  try {
    const printed: Printed = JSON.parse(line)
    return printed
  } catch {
    throw new Error(`not JSON: ${result?.stdout}\nstderr: ${result?.stderr}`)
  }
}

describe("reconcile CLI on SQLite", () => {
  const sqliteEnv = () => ({ ...baseEnv(), DATA_DIR: dataDir })
  const store = Store.layerSqlite({ filename: join(dataDir, "hlconnect.db") })

  it.live(
    "run --once exits 0 when clean, 2 when something needs attention, 3 on 401; report prints the run",
    () =>
      Effect.gen(function* () {
        yield* seedPaid(sandbox)
        yield* seedPaid(sandbox)
        const clean = yield* reconcile(["run", "--once", "--json"], sqliteEnv())
        assert.strictEqual(clean.code, 0, clean.stderr)
        const summary = lastJson(clean)
        assert.strictEqual(summary.examined, 2)
        assert.deepStrictEqual(summary.transitions, { "paid→registered": 2 })

        yield* seedPaid(sandbox, { expired: true })
        const attention = yield* reconcile(["run", "--once", "--json"], sqliteEnv())
        assert.strictEqual(attention.code, 2, attention.stderr)
        assert.strictEqual(lastJson(attention).needsAttention, 1)
        assert.strictEqual(lastJson(attention).transitions?.["registered→completed"], 2)

        yield* seedPaid(sandbox)
        const refused = yield* reconcile(["run", "--once", "--json"], { ...sqliteEnv(), HLCONNECT_TOKEN: "wrong" })
        assert.strictEqual(refused.code, 3)
        assert.match(String(lastJson(refused).error), /401/)
        assert.match(refused.stderr, /HLCONNECT_TOKEN/)

        const report = yield* reconcile(["report", "--json"], sqliteEnv())
        assert.strictEqual(report.code, 0, report.stderr)
        assert.strictEqual(lastJson(report).status, "failed")
        const listed = yield* reconcile(["report", "--runs", "10", "--json"], sqliteEnv())
        assert.strictEqual(listed.code, 0, listed.stderr)
        const runs: ReadonlyArray<Printed> = JSON.parse(listed.stdout.trim())
        assert.deepStrictEqual(
          runs.map((r) => [r.status, r.examined]),
          [
            ["failed", 0],
            ["completed", 3],
            ["completed", 2]
          ]
        )
        // One audit pass by hand: the two completed orders are re-read (nothing drifted at the sandbox).
        const audit = yield* reconcile(["run", "--once", "--audit", "--json"], sqliteEnv())
        assert.strictEqual(audit.code, 0, audit.stderr)
        assert.strictEqual(lastJson(audit).kind, "audit")
        assert.strictEqual(lastJson(audit).examined, 2)
        const auditReport = yield* reconcile(["report", "--audit", "--json"], sqliteEnv())
        assert.strictEqual(auditReport.code, 0, auditReport.stderr)
        assert.strictEqual(lastJson(auditReport).runId, lastJson(audit).runId)
        assert.strictEqual(lastJson(auditReport).kind, "audit")
        const badRuns = yield* reconcile(["report", "--runs", "0"], sqliteEnv())
        assert.strictEqual(badRuns.code, 1)
        assert.match(badRuns.stderr, /--runs must be an integer between 1 and 500/)
        const badConfig = yield* reconcile(["run", "--once"], { ...sqliteEnv(), RECONCILE_CONCURRENCY: "zero" })
        assert.strictEqual(badConfig.code, 1)
        assert.match(badConfig.stderr, /RECONCILE_CONCURRENCY/)
      }).pipe(Effect.provide(store)),
    150_000
  )

  it.live(
    "serve (= pnpm start): reconciles on RECONCILE_SCHEDULE until SIGTERM, then exits 0; a bad schedule names the variable",
    () =>
      Effect.gen(function* () {
        const badSchedule = yield* reconcile(["serve"], {
          ...sqliteEnv(),
          RECONCILE_SCHEDULE: "every second",
          RECONCILE_AUDIT_SCHEDULE: "hourly",
          RECONCILE_AUDIT_WINDOW: "a month",
          RECONCILE_AUDIT_BUDGET: "0",
          RECONCILE_RETENTION: "1 hour"
        })
        assert.strictEqual(badSchedule.code, 1)
        // Every problem at once.
        for (const name of [
          "RECONCILE_SCHEDULE",
          "RECONCILE_AUDIT_SCHEDULE",
          "RECONCILE_AUDIT_WINDOW",
          "RECONCILE_AUDIT_BUDGET",
          "RECONCILE_RETENTION"
        ]) {
          assert.match(badSchedule.stderr, new RegExp(name), name)
        }

        const line = yield* seedPaid(sandbox)
        // A run that ended in 1970: far past RECONCILE_RETENTION (90 days by default).
        const sql = yield* SqlClient
        yield* sql`INSERT INTO reconcile_runs (run_id, kind, started_at, ended_at, status, examined, drifted, repaired, failed)
          VALUES ('run-from-1970', 'pass', 1000, 2000, 'completed', 1, 0, 0, 0)`
        const child = spawn(process.execPath, [join(packageDir, "dist/main.js"), "serve"], {
          cwd: packageDir,
          env: {
            ...sqliteEnv(),
            RECONCILE_SCHEDULE: "* * * * * *",
            RECONCILE_AUDIT_SCHEDULE: "* * * * * *",
            PORT: "0",
            LOG_LEVEL: "info"
          }
        })
        let stderr = ""
        child.stderr.on("data", (c: Buffer) => {
          stderr += c.toString()
        })
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
        yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
        const lines = yield* OrderLines.OrderLines
        // Scheduled passes register it, then see it complete at the sandbox (no fulfilment delay there).
        yield* lines.get({ orderNumber: line.orderNumber, orderLineId: line.orderLineId }).pipe(
          Effect.flatMap((l) => (l.state === "completed" ? Effect.void : Effect.fail(`still ${l.state}`))),
          Effect.retry(Schedule.spaced(Duration.millis(250)).pipe(Schedule.upTo(Duration.seconds(60))))
        )
        // The audit, on its own schedule, re-reads the ended order.
        yield* Effect.suspend(() => (/audit finished/.test(stderr) ? Effect.void : Effect.fail("no audit yet"))).pipe(
          Effect.retry(Schedule.spaced(Duration.millis(250)).pipe(Schedule.upTo(Duration.seconds(30))))
        )
        // Retention purged the old run at start-up.
        const ancient = yield* sql<{
          n: number | string
        }>`SELECT COUNT(*) AS n FROM reconcile_runs WHERE run_id = 'run-from-1970'`
        assert.strictEqual(Number(ancient[0]?.n), 0)
        assert.match(stderr, /retention: purged runs that ended before the cutoff/)
        child.kill("SIGTERM")
        const code = yield* Effect.promise(() => exited)
        assert.strictEqual(code, 0, stderr)
        assert.match(stderr, /reconciling on schedule \* \* \* \* \* \*/)
        assert.match(stderr, /auditing ended orders on schedule \* \* \* \* \* \*/)
      }).pipe(Effect.scoped, Effect.provide(store)),
    120_000
  )
})

/** `script` (util-linux) gives the command a pseudo-terminal; without it the terminal half is skipped. */
const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

/** The command under a pseudo-terminal (stderr a TTY) with stdout redirected to `stdoutFile`. */
const reconcileOnTerminal = (args: ReadonlyArray<string>, env: Record<string, string>, stdoutFile: string) => {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`
  const command = [process.execPath, join(packageDir, "dist/main.js"), ...args].map(quote).join(" ")
  return Effect.promise(
    () =>
      new Promise<CliResult>((resolve) => {
        const child = spawn("script", ["-qec", `${command} > ${quote(stdoutFile)}`, "/dev/null"], {
          cwd: packageDir,
          env
        })
        let terminal = ""
        child.stdout.on("data", (c: Buffer) => {
          terminal += c.toString()
        })
        child.on("exit", (code) => resolve({ code, stdout: readFileSync(stdoutFile, "utf8"), stderr: terminal }))
      })
  )
}

describe("reconcile run --once: progress on a terminal, never in the piped JSON", () => {
  const dir = mkdtempSync(join(tmpdir(), "reconciler-progress-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const env = () => ({ ...baseEnv(), DATA_DIR: dir })
  /** Terminal control bytes made visible, so the assertions can name them. */
  const visible = (text: string) => text.replaceAll("\u001b", "<ESC>").replaceAll("\r", "<CR>")
  /** What `run --once --json` printed before progress existed: one JSON document and a newline. */
  const assertBareJson = (stdout: string) => {
    assert.strictEqual(stdout, `${JSON.stringify(JSON.parse(stdout))}\n`)
    assert.notMatch(visible(stdout), /<CR>|<ESC>/)
  }

  it.live(
    "piped: exactly the JSON summary, no progress bytes on stdout or stderr; on a TTY: the redrawn progress line on stderr",
    () =>
      Effect.gen(function* () {
        for (let i = 0; i < 3; i++) yield* seedPaid(sandbox)
        // A dry run leaves the three orders due, so both runs see the same work.
        const piped = yield* reconcile(["run", "--once", "--dry-run", "--json"], env())
        assert.strictEqual(piped.code, 0, piped.stderr)
        assertBareJson(piped.stdout)
        assert.strictEqual(lastJson(piped).examined, 3)
        assert.notMatch(visible(piped.stderr), /<CR>|<ESC>|reconciling/)

        if (!hasScript) return
        const onTerminal = yield* reconcileOnTerminal(
          ["run", "--once", "--dry-run", "--json"],
          env(),
          join(dir, "stdout.json")
        )
        assert.strictEqual(onTerminal.code, 0, onTerminal.stderr)
        // stdout (redirected) is the same bare JSON while stderr, a terminal, showed progress.
        assertBareJson(onTerminal.stdout)
        assert.strictEqual(lastJson(onTerminal).examined, 3)
        const { durationMs: _a, runId: _b, startedAt: _c, ...same } = JSON.parse(piped.stdout)
        const { durationMs: _d, runId: _e, startedAt: _f, ...sameOnTerminal } = JSON.parse(onTerminal.stdout)
        assert.deepStrictEqual(sameOnTerminal, same)
        const shown = visible(onTerminal.stderr)
        // Redrawn in place (carriage return, clear to the end of the line), the final state left with a newline.
        assert.match(
          shown,
          /<CR>reconciling 3\/3 orders \(100%\) · [0-9.]+\/s · done · changed 0, drift 0, errors 0<ESC>\[K(<CR>)?\n/
        )
      }).pipe(Effect.provide(Store.layerSqlite({ filename: join(dir, "hlconnect.db") }))),
    60_000
  )
})

const pgUrl = postgresUrl()

const makeAllDue = Effect.flatMap(SqlClient, (sql) => sql`UPDATE orders SET next_check_at = 0`)

describe.skipIf(pgUrl === undefined)("two reconciler processes on one PostgreSQL", () => {
  it.live(
    "each order is examined by exactly one of them per pass, and all end completed",
    () =>
      Effect.gen(function* () {
        const url = pgUrl ?? ""
        const schema = uniqueSchema()
        yield* Effect.addFinalizer(() => dropSchema(url, schema))
        const store = Store.layerPg({ url: Redacted.make(url), schema })
        const orders = yield* Effect.forEach(
          Array.from({ length: 40 }, (_, i) => i),
          () => seedPaid(sandbox),
          {
            concurrency: 8
          }
        ).pipe(Effect.provide(store))
        const all = orders.map((l) => l.orderNumber).sort()
        // Slow HL Connect and small batches keep both processes busy at once.
        yield* Effect.promise(() => sandbox.run(sandbox.state.setFaults(FaultSettings.make({ latency_ms: 150 }))))
        const withSchema = new URL(url)
        withSchema.searchParams.set("options", `-c search_path=${schema}`)
        // A registered order is next due in a minute: not again in this pass, whenever the other process starts it.
        const env = {
          ...baseEnv(),
          DATABASE_URL: withSchema.toString(),
          RECONCILE_BATCH: "3",
          FULFILMENT_FIRST_CHECK: "1 minute",
          FULFILMENT_MAX_CHECK_DELAY: "1 hour"
        }
        for (const pass of [1, 2]) {
          // The minute has passed.
          if (pass === 2) yield* makeAllDue.pipe(Effect.provide(store))
          const [a, b] = yield* Effect.all(
            [
              reconcile(["run", "--once", "--json", "--list-orders", "--concurrency", "2"], env),
              reconcile(["run", "--once", "--json", "--list-orders", "--concurrency", "2"], env)
            ],
            { concurrency: 2 }
          )
          assert.strictEqual(a?.code, 0, a?.stderr)
          assert.strictEqual(b?.code, 0, b?.stderr)
          const seenA = lastJson(a).orders ?? []
          const seenB = lastJson(b).orders ?? []
          const overlap = seenA.filter((n) => seenB.includes(n))
          assert.deepStrictEqual(overlap, [], `pass ${pass}: examined by both`)
          assert.deepStrictEqual([...seenA, ...seenB].sort(), all, `pass ${pass}: every order examined`)
          if (pass === 1) assert.isAbove(Math.min(seenA.length, seenB.length), 0, "both did some of the work")
        }
        yield* Effect.promise(() => sandbox.run(sandbox.state.setFaults(FaultSettings.make({}))))
        const states = yield* Effect.forEach(orders, (l) =>
          Effect.map(OrderLines.OrderLines.get({ orderNumber: l.orderNumber, orderLineId: "1" }), (x) => x.state)
        ).pipe(Effect.provide(store))
        assert.deepStrictEqual(new Set(states), new Set(["completed"]))
      }).pipe(Effect.scoped),
    150_000
  )
})
