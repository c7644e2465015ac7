/**
 * Readiness checks registered by the components of an app (database, upstream
 * API, queue...). Liveness needs no checks: if the process answers, it is alive.
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Predicate from "effect/Predicate"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"

export const CheckResult = Schema.Struct({
  name: Schema.String,
  ok: Schema.Boolean,
  error: Schema.optional(Schema.String)
})
export type CheckResult = typeof CheckResult.Type

export const HealthReport = Schema.Struct({
  status: Schema.Literal("ok", "degraded"),
  checks: Schema.Array(CheckResult)
})
export type HealthReport = typeof HealthReport.Type

export interface RegisterOptions {
  /** A check that has not finished after this long counts as failed. Default: 2 seconds. */
  readonly timeout?: Duration.DurationInput
}

interface RegisteredCheck {
  readonly name: string
  readonly check: Effect.Effect<void, unknown>
  readonly timeout: Duration.Duration
}

export const defaultCheckTimeout: Duration.Duration = Duration.seconds(2)

// Checks may fail with anything; show the most useful human-readable text.
const describeFailure = (error: unknown): string => {
  const tag = Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" ? error._tag : undefined
  const message =
    Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message !== ""
      ? error.message
      : undefined
  if (tag !== undefined && message !== undefined) return `${tag}: ${message}`
  return message ?? tag ?? String(error)
}

const runCheck = (registered: RegisteredCheck): Effect.Effect<CheckResult> =>
  registered.check.pipe(
    Effect.timeoutFail({
      duration: registered.timeout,
      onTimeout: () => `timed out after ${Duration.format(registered.timeout)}`
    }),
    Effect.exit,
    Effect.map(
      (exit): CheckResult =>
        Exit.isSuccess(exit)
          ? { name: registered.name, ok: true }
          : {
              name: registered.name,
              ok: false,
              error: Cause.isInterruptedOnly(exit.cause) ? "interrupted" : describeFailure(Cause.squash(exit.cause))
            }
    )
  )

export class Health extends Effect.Service<Health>()("@hlconnect/service/Health", {
  effect: Effect.gen(function* () {
    const checks = yield* Ref.make<ReadonlyMap<string, RegisteredCheck>>(new Map())

    /** Adds (or replaces) the readiness check called `name`. */
    const register = (
      name: string,
      check: Effect.Effect<void, unknown>,
      options: RegisterOptions = {}
    ): Effect.Effect<void> =>
      Ref.update(checks, (current) =>
        new Map(current).set(name, {
          name,
          check,
          timeout: options.timeout === undefined ? defaultCheckTimeout : Duration.decode(options.timeout)
        })
      )

    const unregister = (name: string): Effect.Effect<void> =>
      Ref.update(checks, (current) => {
        const next = new Map(current)
        next.delete(name)
        return next
      })

    /** Runs every check concurrently; `degraded` as soon as one fails or times out. */
    const report: Effect.Effect<HealthReport> = Effect.gen(function* () {
      const registered = Array.from((yield* Ref.get(checks)).values())
      const results = yield* Effect.forEach(registered, runCheck, { concurrency: "unbounded" })
      const failed = results.filter((result) => !result.ok)
      if (failed.length > 0) {
        yield* Effect.logWarning("readiness checks failing", { failed })
      }
      const status: HealthReport["status"] = failed.length === 0 ? "ok" : "degraded"
      return { status, checks: results }
    })

    return { register, unregister, report }
  })
}) {}
