/**
 * What every scenario of one campaign shares: a run directory (logs and data under it), the
 * registry of handed-out secrets and captured logs, and a seeded random source.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { FileFailure, messageOf } from "./Errors.js"
import * as Processes from "./Processes.js"
import * as Random from "./Random.js"
import * as Secrets from "./Secrets.js"

export interface WorkspaceShape {
  readonly runDir: string
  readonly logDir: string
  readonly secrets: Secrets.Registry
  readonly random: Random.Random
  /** Something failed: keep the run directory when `keep` is "on-failure". */
  readonly markFailed: Effect.Effect<void>
  /** A fresh directory under the run directory. */
  readonly dir: (name: string) => Effect.Effect<string, FileFailure>
}

export class Workspace extends Context.Tag("@hlconnect/chaos/Workspace")<Workspace, WorkspaceShape>() {}

export interface WorkspaceOptions {
  readonly seed: number
  /** Whether the run directory (logs, databases) outlives the campaign. */
  readonly keep: "always" | "never" | "on-failure"
}

/** Creates the run directory; removes it on close unless `keep` says otherwise. */
export const layer = (options: WorkspaceOptions): Layer.Layer<Workspace, FileFailure> =>
  Layer.scoped(
    Workspace,
    Effect.gen(function* () {
      let failed = false
      const runDir = yield* Effect.acquireRelease(
        Effect.try({
          try: () => mkdtempSync(join(tmpdir(), "hlconnect-chaos-")),
          catch: (cause) => new FileFailure({ path: tmpdir(), message: messageOf(cause) })
        }),
        (dir, exit) =>
          options.keep === "always" || (options.keep === "on-failure" && (failed || exit._tag === "Failure"))
            ? Effect.logInfo(`chaos: logs and data kept in ${dir}`)
            : Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const logDir = join(runDir, "logs")
      const mk = (path: string) =>
        Effect.try({
          try: () => {
            // Owner-only, as the store wants its data directory (a wider one is warned about).
            mkdirSync(path, { recursive: true, mode: 0o700 })
            return path
          },
          catch: (cause) => new FileFailure({ path, message: messageOf(cause) })
        })
      yield* mk(logDir)
      const secrets = yield* Secrets.make
      return {
        runDir,
        logDir,
        secrets,
        random: Random.make(options.seed),
        markFailed: Effect.sync(() => {
          failed = true
        }),
        dir: (name: string) => mk(join(runDir, name))
      }
    })
  )

/** A process under the scope, its log registered for the secret scan (not started yet). */
export const managed = (
  spec: Processes.LaunchSpec
): Effect.Effect<Processes.AppProcess, never, Workspace | Scope.Scope> =>
  Effect.gen(function* () {
    const ws = yield* Workspace
    const p = yield* Processes.make(spec, ws.logDir)
    yield* ws.secrets.addLog(p.logFile)
    return p
  })

/** `process`, started and ready. */
export const launch = (spec: Processes.LaunchSpec) => Effect.tap(managed(spec), (p) => p.start)
