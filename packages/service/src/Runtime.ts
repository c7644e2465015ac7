/**
 * The entry point of every app: configured logging, a clear report of why the
 * app stopped, and signal handling (SIGINT/SIGTERM interrupt the program so
 * finalizers run, e.g. the HTTP server drains, then the process exits 0).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { PortUnavailable } from "./HttpServing.js"
import * as Logging from "./Logging.js"
import { InvalidConfiguration } from "./ServiceConfig.js"
import * as Tracing from "./Tracing.js"

export interface RunOptions {
  /** Added to every log entry as the `service` annotation. */
  readonly name: string
  /** Replaces the logging configured from `LOG_FORMAT` / `LOG_LEVEL` (e.g. in tests). */
  readonly logging?: Layer.Layer<never>
  /** Replaces the trace export configured from the `OTEL_*` variables (e.g. in tests). */
  readonly tracing?: Layer.Layer<Tracing.Exporting, InvalidConfiguration>
}

/** Failures an operator fixes from the message alone: the message is the whole report. */
const isOperatorProblem = (failure: unknown): failure is InvalidConfiguration | PortUnavailable =>
  failure instanceof InvalidConfiguration || failure instanceof PortUnavailable

/** Logs why the program stopped: configuration and port problems on their own, anything else with its cause. */
export const reportFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  const problem = Array.from(Cause.failures(cause)).find(isOperatorProblem)
  return problem === undefined
    ? Effect.logError("stopped after an unexpected failure", cause)
    : Effect.logError(problem.message)
}

/**
 * `program` with logging and trace export provided, failures reported and logs annotated with
 * the service name. Invalid logging settings are reported with the default format.
 */
export const withServiceRuntime = <A, E>(
  program: Effect.Effect<A, E>,
  options: RunOptions
): Effect.Effect<A, E | InvalidConfiguration> => {
  // Inside the logging: the exporter's shutdown (a final flush) still logs.
  const traced = Tracing.withRedactedHeaders(
    Effect.provide(program, options.tracing ?? Tracing.layer(`hlconnect-${options.name}`))
  )
  const reported = Effect.tapErrorCause(traced, reportFailure)
  const run =
    options.logging !== undefined
      ? Effect.provide(reported, options.logging)
      : Effect.flatMap(
          Effect.tapError(Logging.loadSettings, (error) =>
            Effect.provide(reportFailure(Cause.fail(error)), Logging.layerWith(Logging.fallbackSettings()))
          ),
          (settings) => Effect.provide(reported, Logging.layerWith(settings))
        )
  return Effect.annotateLogs(run, "service", options.name)
}

// `Layer.isLayer` narrows to `Layer<unknown, unknown, unknown>`; keep the caller's type parameters.
const isLayer = <A, E, ROut>(value: Effect.Effect<A, E> | Layer.Layer<ROut, E>): value is Layer.Layer<ROut, E> =>
  Layer.isLayer(value)

/**
 * Runs a program (or launches a layer) as the process' main fiber. Exit code 0 on
 * success or SIGINT/SIGTERM, 1 on any failure (including `InvalidConfiguration`).
 */
export const runMain = <A, E, ROut = never>(
  programOrLayer: Effect.Effect<A, E> | Layer.Layer<ROut, E>,
  options: RunOptions
): void => {
  const program: Effect.Effect<unknown, E> = isLayer(programOrLayer) ? Layer.launch(programOrLayer) : programOrLayer
  // Our own logger reports failures, so the platform's pretty logger and error report are turned off.
  NodeRuntime.runMain(withServiceRuntime(program, options), { disableErrorReporting: true, disablePrettyLogger: true })
}

/** Builds `layer` and keeps it running until interrupted: `Layer.launch` plus `runMain`. */
export const launch = <ROut, E>(layer: Layer.Layer<ROut, E>, options: RunOptions): void =>
  runMain(Layer.launch(layer), options)
