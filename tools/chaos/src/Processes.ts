/**
 * The apps as real child processes (`node <app>/dist/main.js …`): every start's stdout and
 * stderr appended to one log file per process (read later by the secret scan), readiness probed
 * over HTTP, SIGKILL and restart on demand, and every exit recorded with whether we caused it.
 */
import { Duration, Effect, Schedule, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, createWriteStream, openSync, readSync, statSync } from "node:fs"
import { join } from "node:path"
import { ProcessFailed } from "./Errors.js"
import * as Http from "./Http.js"

export interface LaunchSpec {
  /** Unique within a campaign: names the log file. */
  readonly name: string
  /** The script node runs (an app's dist/main.js). */
  readonly script: string
  readonly args?: ReadonlyArray<string>
  /** The child's whole environment (nothing is inherited: a stray DATABASE_URL must not leak in). */
  readonly env: Readonly<Record<string, string>>
  /** Probed at `<readyUrl>/health/ready` after each start until it answers 200; unset: not probed. */
  readonly readyUrl?: string
}

export interface ExitRecord {
  readonly code: number | null
  readonly signal: string | null
  /** We stopped or killed it. */
  readonly caused: boolean
}

export interface AppProcess {
  readonly name: string
  readonly logFile: string
  readonly url: string | undefined
  /** Starts (again) and waits until ready. */
  readonly start: Effect.Effect<void, ProcessFailed>
  /** SIGKILL now; waits for the exit. No-op when not running. */
  readonly kill: Effect.Effect<void>
  /** SIGTERM, then SIGKILL after `grace`; waits for the exit. */
  readonly stop: (grace?: Duration.DurationInput) => Effect.Effect<void>
  /** Waits for the current run to end (at once when not running). */
  readonly awaitExit: Effect.Effect<void>
  readonly running: Effect.Effect<boolean>
  readonly exits: Effect.Effect<ReadonlyArray<ExitRecord>>
  readonly starts: Effect.Effect<number>
}

/** The last `bytes` of a file, for error messages. */
export const tail = (file: string, bytes = 1500): string => {
  try {
    const size = statSync(file).size
    const length = Math.min(size, bytes)
    const buffer = Buffer.alloc(length)
    const fd = openSync(file, "r")
    try {
      readSync(fd, buffer, 0, length, size - length)
    } finally {
      closeSync(fd)
    }
    return buffer.toString("utf8")
  } catch {
    return "(no log)"
  }
}

const isRunning = (child: ChildProcess | undefined): boolean =>
  child !== undefined && child.exitCode === null && child.signalCode === null

const exited = (child: ChildProcess): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (!isRunning(child)) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

const probe = (name: string, url: string, child: ChildProcess, logFile: string) =>
  Effect.gen(function* () {
    if (!isRunning(child)) {
      return yield* Effect.fail(
        new ProcessFailed({
          name,
          message: `exited (${child.exitCode ?? child.signalCode}) before it was ready; log tail:\n${tail(logFile)}`
        })
      )
    }
    // Bounded probes: a connection made while an app is still starting may go unanswered.
    const res = yield* Http.request({ method: "GET", url: `${url}/health/ready`, timeout: Duration.seconds(2) }).pipe(
      Effect.option
    )
    if (res._tag === "Some" && res.value.status === 200) return
    return yield* Effect.fail(new ProcessFailed({ name, message: "not ready" }))
  })

/**
 * A process under the scope's control (not started yet: call `start`). Closing the scope stops
 * it (SIGTERM, then SIGKILL) and closes its log.
 */
export const make = (spec: LaunchSpec, logDir: string): Effect.Effect<AppProcess, never, Scope.Scope> =>
  Effect.gen(function* () {
    const logFile = join(logDir, `${spec.name}.log`)
    const log = createWriteStream(logFile, { flags: "a" })
    let child: ChildProcess | undefined
    let startCount = 0
    const exits: Array<ExitRecord> = []
    const causing = new WeakSet<ChildProcess>()

    const spawnOne = Effect.sync(() => {
      startCount++
      log.write(`\n=== chaos: start #${startCount} of ${spec.name} at ${new Date().toISOString()} ===\n`)
      const proc = spawn(process.execPath, [spec.script, ...(spec.args ?? [])], {
        env: { ...spec.env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      proc.stdout?.pipe(log, { end: false })
      proc.stderr?.pipe(log, { end: false })
      proc.once("exit", (code, signal) => {
        exits.push({ code, signal, caused: causing.has(proc) })
      })
      // A spawn failure surfaces as an exit without a code; the probe reports it.
      proc.once("error", (error) => {
        log.write(`\n=== chaos: spawn error: ${error.message} ===\n`)
      })
      child = proc
      return proc
    })

    const kill = Effect.suspend(() => {
      const proc = child
      if (proc === undefined || !isRunning(proc)) return Effect.void
      causing.add(proc)
      proc.kill("SIGKILL")
      return exited(proc)
    })

    const stop = (grace: Duration.DurationInput = Duration.seconds(10)) =>
      Effect.suspend(() => {
        const proc = child
        if (proc === undefined || !isRunning(proc)) return Effect.void
        causing.add(proc)
        proc.kill("SIGTERM")
        return exited(proc).pipe(
          Effect.timeout(grace),
          Effect.catchTag("TimeoutException", () => kill)
        )
      })

    const start = Effect.gen(function* () {
      if (isRunning(child)) return
      const proc = yield* spawnOne
      const url = spec.readyUrl
      if (url === undefined) return
      yield* probe(spec.name, url, proc, logFile).pipe(
        Effect.retry({
          schedule: Schedule.spaced(Duration.millis(150)),
          while: (e) => e.message === "not ready"
        }),
        Effect.timeoutFail({
          duration: Duration.seconds(60),
          onTimeout: () =>
            new ProcessFailed({ name: spec.name, message: `not ready after 60 s; log tail:\n${tail(logFile)}` })
        })
      )
    })

    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        stop(Duration.seconds(5)),
        Effect.async<void>((resume) => {
          log.end(() => resume(Effect.void))
        })
      )
    )

    return {
      name: spec.name,
      logFile,
      url: spec.readyUrl,
      start,
      kill,
      stop,
      awaitExit: Effect.suspend(() => (child === undefined ? Effect.void : exited(child))),
      running: Effect.sync(() => isRunning(child)),
      exits: Effect.sync(() => [...exits]),
      starts: Effect.sync(() => startCount)
    }
  })

/** `make`, then `start`. */
export const launch = (spec: LaunchSpec, logDir: string): Effect.Effect<AppProcess, ProcessFailed, Scope.Scope> =>
  Effect.tap(make(spec, logDir), (p) => p.start)

/** Exits nobody asked for (a crash), for servers that should run until stopped. */
export const unexpectedExits = (p: AppProcess): Effect.Effect<ReadonlyArray<ExitRecord>> =>
  Effect.map(p.exits, (all) => all.filter((e) => !e.caused))
