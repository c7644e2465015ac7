/**
 * For benches (`@hlconnect/conformance/bench`, used by this package's client bench and the
 * reconciler's): a server (the sandbox or the floor server) in a process of its own, pinned to a
 * CPU when `taskset` exists, and what share of a CPU it used — a bench whose server saturates
 * measures the server, so every bench reports it. Bench-only, so it lives here and not in the
 * sandbox, which is a published package.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort } from "@hlconnect/sandbox"

/** `node` scripts of this package a bench can start. */
export const serverScripts = {
  /** The sandbox, configured by `SANDBOX_*` variables (`@hlconnect/sandbox`'s `dist/main.js`). */
  sandbox: join(dirname(createRequire(import.meta.url).resolve("@hlconnect/sandbox")), "main.js"),
  /**
   * The canned floor server (see floor.ts), always the built one: the same path from
   * `dist/bench/` and from `src/bench/` (this package's own benches and tests import the source).
   */
  floor: fileURLToPath(new URL("../../dist/bench/floor.js", import.meta.url))
} as const

let taskset: boolean | undefined

/** Whether `taskset` (util-linux) can pin processes here (asked once). */
export const hasTaskset = (): boolean => {
  if (taskset === undefined) {
    try {
      execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" })
      taskset = true
    } catch {
      taskset = false
    }
  }
  return taskset
}

/** Pins this process (all its threads) to `cpu` when `taskset` exists; whether it did. */
export const pinThisProcess = (cpu: number): boolean => {
  if (!hasTaskset()) return false
  execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(process.pid)], { stdio: "ignore" })
  return true
}

/** utime + stime of a process in µs, from /proc (Linux); undefined elsewhere or once it is gone. */
export const processCpuMicros = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // Fields after the command: state is [0], utime [11], stime [12], in clock ticks (100 Hz).
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100
  } catch {
    return undefined
  }
}

/** Measures one process' CPU from now: `share()` is its share of one CPU since, when readable. */
export const cpuMeter = (pid: number | undefined) => {
  const startCpu = processCpuMicros(pid)
  const started = performance.now()
  return {
    share: (): number | undefined => {
      const endCpu = processCpuMicros(pid)
      const elapsedMicros = (performance.now() - started) * 1000
      return startCpu === undefined || endCpu === undefined || elapsedMicros <= 0
        ? undefined
        : (endCpu - startCpu) / elapsedMicros
    }
  }
}

export interface ServerProcess {
  readonly url: string
  readonly child: ChildProcess
  /** Whether it runs pinned to the CPU asked for. */
  readonly pinned: boolean
  readonly stop: () => void
}

export interface ServerProcessOptions {
  readonly script: string
  /** Added to this process' environment; `PORT` is set to a free port. */
  readonly env?: Readonly<Record<string, string>>
  /** Pin the server to this CPU when `taskset` exists. */
  readonly cpu?: number
  /** Extra `node` flags, e.g. `--cpu-prof`. */
  readonly nodeArgs?: ReadonlyArray<string>
}

/** Starts `script` on a free loopback port and waits until `/health/live` answers 200 (10 s at most). */
export const startServerProcess = async (options: ServerProcessOptions): Promise<ServerProcess> => {
  const port = await freePort()
  const env = { ...process.env, ...options.env, PORT: String(port) }
  const args = [...(options.nodeArgs ?? []), options.script]
  const pinned = options.cpu !== undefined && hasTaskset()
  const child = pinned
    ? spawn("taskset", ["-c", String(options.cpu), process.execPath, ...args], {
        env,
        stdio: ["ignore", "ignore", "inherit"]
      })
    : spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "inherit"] })
  const url = `http://127.0.0.1:${port}`
  const stop = () => {
    child.kill("SIGTERM")
  }
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${options.script} exited with ${child.exitCode}`)
    const live = await fetch(`${url}/health/live`).then(
      async (response) => {
        await response.arrayBuffer()
        return response.ok
      },
      () => false
    )
    if (live) return { url, child, pinned, stop }
    await new Promise<void>((resolve) => setTimeout(resolve, 50))
  }
  stop()
  throw new Error(`${options.script} did not become live within 10 s`)
}
