/**
 * One progress line on a terminal, redrawn in place while long work runs (`reconcile run --once`,
 * `pnpm chaos`): the one mechanism both share, here because apps never import each other and tools
 * may import packages.
 *
 * The line goes to a stream the caller names (stderr for both users), and only when that stream is
 * a TTY: piped or redirected, nothing is written, so stdout's machine-readable output never carries
 * progress bytes. Redraws are throttled (every 200 ms, and only when the text changed), use `\r` and
 * clear-to-end-of-line, are cut to the terminal width (a wrapped line cannot be redrawn in place),
 * and end with a newline that leaves the last state visible.
 */
import { Clock, Duration, Effect, Fiber, Schedule } from "effect"

/** The part of a Node.js writable stream (process.stderr, a tty.WriteStream) the line needs. */
export interface ProgressStream {
  readonly isTTY?: boolean
  readonly columns?: number
  readonly write: (chunk: string) => boolean
}

const clearLine = "\u001b[K"

/** `0.8s`, `42s`, `3m05s`, `1h02m`: short enough to sit in one line. */
export const formatDuration = (ms: number): string => {
  if (!Number.isFinite(ms) || ms < 0) return "?"
  if (ms < 950) return `${(ms / 1000).toFixed(1)}s`
  const seconds = Math.round(ms / 1000)
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`
}

/** Items per second with a precision that fits the magnitude. */
const formatRate = (perSecond: number): string =>
  perSecond >= 100 ? perSecond.toFixed(0) : perSecond >= 10 ? perSecond.toFixed(1) : perSecond.toFixed(2)

/**
 * `reconciling 120/500 orders (24%) · 35.2/s · ETA 11s`: done of total, the rate so far and the time
 * left at that rate. Before the first item is done there is no rate, so no ETA. `done` past `total`
 * (work that became due meanwhile) shows as is, at 100%.
 */
export const countLine = (p: {
  readonly label: string
  readonly unit: string
  readonly done: number
  readonly total: number
  readonly elapsedMs: number
}): string => {
  const percent = p.total > 0 ? Math.min(100, Math.floor((p.done / p.total) * 100)) : 100
  const head = `${p.label} ${p.done}/${p.total} ${p.unit} (${percent}%)`
  if (p.done === 0 || p.elapsedMs <= 0) return `${head} · ${formatDuration(p.elapsedMs)} elapsed`
  const perSecond = p.done / (p.elapsedMs / 1000)
  const left = Math.max(0, p.total - p.done)
  const eta = left === 0 ? "done" : `ETA ${formatDuration((left / perSecond) * 1000)}`
  return `${head} · ${formatRate(perSecond)}/s · ${eta}`
}

/** `scenario 3/6 · 1m05s elapsed · faults`: step i of n (1-based, the one running), and its name. */
export const stepLine = (p: {
  readonly label: string
  readonly index: number
  readonly total: number
  readonly elapsedMs: number
  readonly current: string
}): string => `${p.label} ${p.index}/${p.total} · ${formatDuration(p.elapsedMs)} elapsed · ${p.current}`

/**
 * The redrawn line over one stream. `draw` replaces it, `above` prints a whole line (a log line)
 * above it and redraws it, `end` leaves it with a newline. Synchronous, so a logger can use it.
 * On a stream that is not a TTY, `draw` and `end` write nothing and `above` writes the plain line.
 */
export interface Line {
  readonly active: boolean
  readonly draw: (text: string) => void
  readonly above: (text: string) => void
  readonly end: () => void
}

export const line = (stream: ProgressStream): Line => {
  const active = stream.isTTY === true
  let shown = ""
  const fit = (text: string): string => {
    const width = stream.columns ?? 0
    // One column kept free: writing into the last column wraps on some terminals.
    return width > 1 && text.length >= width ? `${text.slice(0, width - 2)}…` : text
  }
  return {
    active,
    draw: (text) => {
      if (!active) return
      const fitted = fit(text)
      if (fitted === shown) return
      shown = fitted
      stream.write(`\r${fitted}${clearLine}`)
    },
    above: (text) => {
      if (!active || shown === "") {
        stream.write(`${text}\n`)
        return
      }
      stream.write(`\r${clearLine}${text}\n${shown}`)
    },
    end: () => {
      if (!active || shown === "") return
      shown = ""
      stream.write("\n")
    }
  }
}

/** Redraws at most this often. */
export const defaultInterval = Duration.millis(200)

/**
 * Runs `body` with `render` redrawn on `target` (a stream, or a `line` shared with a logger) every
 * `interval` while it runs, then once more with the final state, and a newline. `render` gets the
 * time since `body` started. Not a TTY: `body` alone, nothing drawn.
 */
export const during = <A, E, R>(
  target: ProgressStream | Line,
  render: (elapsedMs: number) => Effect.Effect<string>,
  body: Effect.Effect<A, E, R>,
  options: { readonly interval?: Duration.DurationInput } = {}
): Effect.Effect<A, E, R> => {
  const out = "draw" in target ? target : line(target)
  if (!out.active) return body
  return Effect.gen(function* () {
    const startedAt = yield* Clock.currentTimeMillis
    const draw = Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => render(now - startedAt)),
      Effect.flatMap((text) => Effect.sync(() => out.draw(text)))
    )
    const painter = yield* Effect.fork(Effect.repeat(draw, Schedule.spaced(options.interval ?? defaultInterval)))
    return yield* body.pipe(
      Effect.ensuring(Fiber.interrupt(painter).pipe(Effect.zipRight(draw), Effect.zipRight(Effect.sync(out.end))))
    )
  })
}
