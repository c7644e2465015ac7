/**
 * Non-blocking group commits into the inbox. On PostgreSQL this is `Inbox.appendBatch` (the
 * driver is asynchronous). On a SQLite file the store's driver (better-sqlite3) is synchronous,
 * so every commit's fsync (synchronous=FULL) would stall the event loop: there the batch is
 * written by a worker thread holding its own connection to the same WAL file. Both validate
 * with `Inbox.NewInboundBatch` and build rows from the same definition (`internal/inboxRows`).
 */
import { Clock, Context, Deferred, Effect, Exit, Layer, Option, Runtime, Schema, type Scope } from "effect"
import { existsSync } from "node:fs"
import { Worker } from "node:worker_threads"
import type { AdmissionModule, AdmissionOutcome, RawInbound } from "./Admission.js"
import { type InvalidInput, StorageError } from "./Errors.js"
import { Inbox, NewInboundBatch, type NewInboundEvent } from "./Inbox.js"
import { decodeInput } from "./internal/codec.js"
import { type AppendOutcome, outcomesFor, rowsForBatch, rowValues } from "./internal/inboxRows.js"
import { Reply, type Request, type WorkerData } from "./internal/inboxWriterProtocol.js"
import { Store } from "./Store.js"

export interface InboxWriterService {
  /** `store`: `Inbox.appendBatch` on the caller's thread; `sqlite-worker`: a worker thread. */
  readonly kind: "store" | "sqlite-worker"
  /** Same contract as `Inbox.appendBatch`: one transaction, one outcome per event, bad input writes nothing. */
  readonly appendBatch: (
    events: ReadonlyArray<NewInboundEvent>
  ) => Effect.Effect<ReadonlyArray<AppendOutcome>, InvalidInput | StorageError>
  /**
   * Present when an admission module runs next to the commits (a SQLite worker started with
   * one): raw requests in, one outcome per request, in order. Batches are committed in the
   * order they are submitted; several handed over close together may share one commit.
   */
  readonly admitBatch?: (
    items: ReadonlyArray<RawInbound>
  ) => Effect.Effect<ReadonlyArray<AdmissionOutcome>, StorageError>
  /** `admitBatch` for callers outside any fiber (the ingest fast path): `done` is called exactly once. */
  readonly admitCallback?: (
    items: ReadonlyArray<RawInbound>,
    done: (exit: Exit.Exit<ReadonlyArray<AdmissionOutcome>, StorageError>) => void
  ) => void
}

export class InboxWriter extends Context.Tag("@hlconnect/store/InboxWriter")<InboxWriter, InboxWriterService>() {}

/** `Inbox.appendBatch` itself. */
export const makeStore: Effect.Effect<InboxWriterService, never, Inbox> = Effect.map(Inbox, (inbox) => ({
  kind: "store",
  appendBatch: inbox.appendBatch
}))

/**
 * The compiled worker sits next to this module in dist. When this module runs from source
 * (vitest, tsx) only the .ts file exists, and Node cannot start a worker on it (a worker
 * does not inherit the tsx loader), so a bootstrap loads it through tsx's API (dev only).
 */
const startWorker = (workerData: typeof WorkerData.Encoded): Worker => {
  const compiled = new URL("./internal/inboxWriterWorker.js", import.meta.url)
  const typescriptAdmission = workerData.admission?.url.endsWith(".ts") === true
  if (existsSync(compiled) && !typescriptAdmission) return new Worker(compiled, { workerData })
  // From source (tests, tsx) the worker or its admission module is TypeScript: tsx handles every import there.
  const entry = existsSync(compiled) ? compiled.href : new URL("./internal/inboxWriterWorker.ts", import.meta.url).href
  const bootstrap = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}) })`
  return new Worker(bootstrap, { eval: true, workerData })
}

const decodeReply = Schema.decodeUnknownOption(Reply)

interface Running {
  readonly worker: Worker
  readonly pending: Map<number, Deferred.Deferred<ReadonlyArray<string>, StorageError>>
  readonly admitting: Map<number, (exit: Exit.Exit<ReadonlyArray<AdmissionOutcome>, StorageError>) => void>
}

const failure = (message: string) => new StorageError({ message: `inbox writer: ${message}`, cause: message })

/**
 * Group commits on a worker thread with its own connection to `filename` (which must already
 * be migrated). The worker is started now and terminated when the scope closes. If it dies,
 * the batches in flight fail with `StorageError` and the next batch starts a new one.
 */
export const makeSqliteWorker = (
  filename: string,
  options: { readonly admission?: AdmissionModule } = {}
): Effect.Effect<InboxWriterService, StorageError, Scope.Scope> =>
  Effect.gen(function* () {
    let running: Running | undefined
    let closed = false
    let nextId = 0

    const start = Effect.async<Running, StorageError>((resume) => {
      const worker = startWorker(
        options.admission === undefined ? { filename } : { filename, admission: options.admission }
      )
      const self: Running = { worker, pending: new Map(), admitting: new Map() }
      let started = false
      const stop = (message: string) => {
        if (running === self) running = undefined
        for (const done of self.pending.values()) Deferred.unsafeDone(done, Effect.fail(failure(message)))
        self.pending.clear()
        for (const done of self.admitting.values()) done(Exit.fail(failure(message)))
        self.admitting.clear()
        if (!started) {
          started = true
          resume(Effect.fail(failure(message)))
        }
      }
      worker.on("message", (raw: unknown) => {
        const reply = decodeReply(raw)
        if (Option.isNone(reply)) return
        const m = reply.value
        switch (m._tag) {
          case "Ready":
            if (!started) {
              started = true
              running = self
              resume(Effect.succeed(self))
            }
            return
          case "StartFailed":
            return stop(`cannot open ${filename}: ${m.message}`)
          case "AdmitResults": {
            const done = self.admitting.get(m.id)
            if (done === undefined) return
            self.admitting.delete(m.id)
            done(Exit.succeed(m.results))
            return
          }
          case "Appended":
          case "AppendFailed": {
            const admitted = self.admitting.get(m.id)
            if (admitted !== undefined && m._tag === "AppendFailed") {
              self.admitting.delete(m.id)
              admitted(Exit.fail(failure(m.message)))
              return
            }
            const done = self.pending.get(m.id)
            if (done === undefined) return
            self.pending.delete(m.id)
            Deferred.unsafeDone(
              done,
              m._tag === "Appended" ? Effect.succeed(m.inserted) : Effect.fail(failure(m.message))
            )
            return
          }
        }
      })
      worker.on("error", (e) => stop(`worker failed: ${e.message}`))
      worker.on("exit", (code) => stop(`worker exited (code ${code})`))
      return Effect.promise(() => worker.terminate())
    })

    // One start at a time, so concurrent batches after a crash share the replacement worker.
    const lock = yield* Effect.makeSemaphore(1)
    const current = lock.withPermits(1)(
      Effect.suspend(() =>
        closed ? Effect.fail(failure("closed")) : running !== undefined ? Effect.succeed(running) : start
      )
    )

    yield* current
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        const r = running
        if (r === undefined) return Effect.void
        // Ask the worker to close its connection (checkpointing the WAL); terminate if it does not exit promptly.
        const exited = Effect.async<void>((resume) => {
          r.worker.once("exit", () => resume(Effect.void))
          r.worker.postMessage({ _tag: "Close" } satisfies Request)
        })
        return exited.pipe(
          Effect.timeout("2 seconds"),
          Effect.catchAll(() => Effect.promise(() => r.worker.terminate()))
        )
      })
    )

    const appendBatch = (
      events: ReadonlyArray<NewInboundEvent>
    ): Effect.Effect<ReadonlyArray<AppendOutcome>, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const batch = yield* decodeInput(NewInboundBatch)(events)
        const now = yield* Clock.currentTimeMillis
        const rows = rowsForBatch(batch, now).map(rowValues)
        const r = yield* current
        const done = yield* Deferred.make<ReadonlyArray<string>, StorageError>()
        const id = nextId++
        r.pending.set(id, done)
        r.worker.postMessage({ _tag: "Append", id, rows } satisfies Request)
        return outcomesFor(batch, yield* Deferred.await(done))
      }).pipe(Effect.withSpan("InboxWriter.appendBatch"))

    const handOver = (
      r: Running,
      items: ReadonlyArray<RawInbound>,
      done: (exit: Exit.Exit<ReadonlyArray<AdmissionOutcome>, StorageError>) => void
    ) => {
      const id = nextId++
      r.admitting.set(id, done)
      r.worker.postMessage({ _tag: "Admit", id, items } satisfies Request)
    }

    // Only a worker that died needs an Effect (starting its replacement); the running one is posted to directly.
    const runCallback = Runtime.runCallback(yield* Effect.runtime<never>())

    /** Callback-shaped: no fiber or Deferred per batch on the receiving thread's hot path. */
    const admitCallback = (
      items: ReadonlyArray<RawInbound>,
      done: (exit: Exit.Exit<ReadonlyArray<AdmissionOutcome>, StorageError>) => void
    ) => {
      if (closed) return done(Exit.fail(failure("closed")))
      if (running !== undefined) return handOver(running, items, done)
      runCallback(current, {
        onExit: (exit) => (Exit.isSuccess(exit) ? handOver(exit.value, items, done) : done(Exit.failCause(exit.cause)))
      })
    }

    const admitBatch = (
      items: ReadonlyArray<RawInbound>
    ): Effect.Effect<ReadonlyArray<AdmissionOutcome>, StorageError> =>
      Effect.async((resume) => admitCallback(items, resume))

    return options.admission === undefined
      ? ({ kind: "sqlite-worker", appendBatch } satisfies InboxWriterService)
      : ({ kind: "sqlite-worker", appendBatch, admitBatch, admitCallback } satisfies InboxWriterService)
  })

/**
 * Chosen from the store's engine: a worker thread on a SQLite file (running `admission`, when
 * given, next to the commits), else `Inbox.appendBatch` (the caller admits on its own thread).
 */
export const makeWith = (options: {
  readonly admission?: AdmissionModule
}): Effect.Effect<InboxWriterService, StorageError, Store | Inbox | Scope.Scope> =>
  Effect.gen(function* () {
    const store = yield* Store
    return yield* Option.match(store.sqliteFile, {
      // PostgreSQL is asynchronous already; an in-memory SQLite database cannot be shared with another connection.
      onNone: () => makeStore,
      onSome: (filename) => makeSqliteWorker(filename, options)
    })
  })

/** `makeWith` without admission. */
export const make: Effect.Effect<InboxWriterService, StorageError, Store | Inbox | Scope.Scope> = makeWith({})

/** `InboxWriter` for the provided store (see `make`). */
export const layer: Layer.Layer<InboxWriter, StorageError, Store | Inbox> = Layer.scoped(InboxWriter, make)

/** Always `Inbox.appendBatch`, on the caller's thread. */
export const layerStore: Layer.Layer<InboxWriter, never, Inbox> = Layer.effect(InboxWriter, makeStore)

/** A worker thread on `filename` (already migrated). */
export const layerSqliteWorker = (filename: string): Layer.Layer<InboxWriter, StorageError> =>
  Layer.scoped(InboxWriter, makeSqliteWorker(filename))
