/**
 * Reconcile runs: what each reconciler pass examined, the drift it found and what it did, kept
 * for the report.
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { Clock, Effect, Option, Schema } from "effect"
import { IllegalTransition, InvalidInput, NotFound, type StorageError } from "./Errors.js"
import {
  boundedText,
  DbInt,
  DbJson,
  DbMillis,
  decodeInput,
  decodeRows,
  encodeJson,
  Identifier,
  NonNegativeInt,
  newId,
  storage
} from "./internal/codec.js"
import { PurgeRequest, skipLocked } from "./internal/purge.js"
import { atomically } from "./internal/atomically.js"

export const RunStatus = Schema.Literal("running", "completed", "failed")
export type RunStatus = typeof RunStatus.Type

/** `pass`: the scheduled reconcile of due orders; `audit`: the re-read of recently ended orders. */
export const RunKind = Schema.Literal("pass", "audit")
export type RunKind = typeof RunKind.Type

export class ReconcileRun extends Schema.Class<ReconcileRun>("ReconcileRun")({
  runId: Schema.String,
  kind: RunKind,
  startedAt: DbMillis,
  endedAt: Schema.OptionFromNullOr(DbMillis),
  status: RunStatus,
  examined: DbInt,
  drifted: DbInt,
  repaired: DbInt,
  failed: DbInt,
  error: Schema.OptionFromNullOr(Schema.String)
}) {}

/** What the reconciler found for one order (line) and what it did about it. */
export class Drift extends Schema.Class<Drift>("Drift")({
  driftId: Schema.String,
  runId: Schema.String,
  orderNumber: Schema.String,
  orderLineId: Schema.OptionFromNullOr(Schema.String),
  expected: DbJson,
  observed: DbJson,
  action: Schema.String,
  result: Schema.String,
  recordedAt: DbMillis
}) {}

const MaxDriftValueBytes = 64 * 1024

export const NewDrift = Schema.Struct({
  runId: Identifier,
  orderNumber: Identifier,
  orderLineId: Schema.optional(Identifier),
  /** Any JSON value (a state name, a snapshot…). */
  expected: Schema.Unknown,
  observed: Schema.Unknown,
  action: boundedText(200).pipe(Schema.minLength(1)),
  result: boundedText(2000).pipe(Schema.minLength(1))
})
export type NewDrift = typeof NewDrift.Type

export const FinishRun = Schema.Struct({
  runId: Identifier,
  status: Schema.Literal("completed", "failed"),
  examined: NonNegativeInt,
  drifted: NonNegativeInt,
  repaired: NonNegativeInt,
  failed: NonNegativeInt,
  error: Schema.optional(boundedText(4000))
})
export type FinishRun = typeof FinishRun.Type

export class ReconcileRuns extends Effect.Service<ReconcileRuns>()("@hlconnect/store/ReconcileRuns", {
  accessors: true,
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient
    const decodeRuns = decodeRows(ReconcileRun, "reconcile run")
    const decodeDrifts = decodeRows(Drift, "drift")

    const find = (runId: string) =>
      sql`SELECT * FROM reconcile_runs WHERE run_id = ${runId}`.pipe(
        Effect.flatMap(decodeRuns),
        Effect.flatMap((rows) =>
          rows[0] === undefined
            ? Effect.fail(new NotFound({ entity: "reconcile run", id: runId }))
            : Effect.succeed(rows[0])
        )
      )

    const startKind = (kind: RunKind): Effect.Effect<ReconcileRun, StorageError> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const runId = yield* newId
        const rows = yield* sql`INSERT INTO reconcile_runs ${sql.insert({
          runId,
          kind,
          startedAt: now,
          status: "running",
          examined: 0,
          drifted: 0,
          repaired: 0,
          failed: 0
        })} RETURNING *`.pipe(Effect.flatMap(decodeRuns))
        yield* sql`INSERT INTO reconcile_starts (kind, started_at) VALUES (${kind}, ${now})
        ON CONFLICT (kind) DO UPDATE SET started_at = excluded.started_at`
        return rows[0] ?? (yield* Effect.dieMessage("INSERT … RETURNING returned no row"))
      }).pipe(storage)

    /** When a run of this kind last started, stored or discarded since (the schedule's missed ticks count from it). */
    const lastStartedAt = (kind: RunKind): Effect.Effect<Option.Option<number>, StorageError> =>
      sql`SELECT started_at FROM reconcile_starts WHERE kind = ${kind}`.pipe(
        Effect.flatMap(decodeRows(Schema.Struct({ startedAt: DbMillis }), "reconcile start")),
        Effect.map((rows) => Option.fromNullable(rows[0]?.startedAt)),
        storage
      )

    /** A reconcile pass starts. */
    const start = startKind("pass")

    /** One drift record; call inside `Store.transaction` with the repair it describes. */
    const recordDrift = (input: NewDrift): Effect.Effect<Drift, InvalidInput | NotFound | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(NewDrift)(input)
        const expected = yield* encodeJson(req.expected, "expected")
        const observed = yield* encodeJson(req.observed, "observed")
        for (const [field, value] of [
          ["expected", expected],
          ["observed", observed]
        ] as const) {
          if (Buffer.byteLength(value, "utf8") > MaxDriftValueBytes) {
            return yield* new InvalidInput({ field, message: `must be at most ${MaxDriftValueBytes} bytes as JSON` })
          }
        }
        yield* find(req.runId)
        const now = yield* Clock.currentTimeMillis
        const driftId = yield* newId
        const rows = yield* sql`INSERT INTO reconcile_drifts ${sql.insert({
          driftId,
          runId: req.runId,
          orderNumber: req.orderNumber,
          orderLineId: req.orderLineId ?? null,
          expected,
          observed,
          action: req.action,
          result: req.result,
          recordedAt: now
        })} RETURNING *`.pipe(Effect.flatMap(decodeDrifts))
        return rows[0] ?? (yield* Effect.dieMessage("INSERT … RETURNING returned no row"))
      }).pipe(storage)

    /** Close a running run with its counts. Finishing twice is an `IllegalTransition`. */
    const finish = (
      input: FinishRun
    ): Effect.Effect<ReconcileRun, InvalidInput | NotFound | IllegalTransition | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(FinishRun)(input)
        const now = yield* Clock.currentTimeMillis
        const rows = yield* sql`UPDATE reconcile_runs SET ${sql.update({
          endedAt: now,
          status: req.status,
          examined: req.examined,
          drifted: req.drifted,
          repaired: req.repaired,
          failed: req.failed,
          error: req.error ?? null
        })} WHERE run_id = ${req.runId} AND status = 'running' RETURNING *`.pipe(Effect.flatMap(decodeRuns))
        const run = rows[0]
        if (run !== undefined) return run
        const current = yield* find(req.runId)
        return yield* new IllegalTransition({
          entity: "reconcile run",
          id: req.runId,
          from: current.status,
          to: req.status
        })
      }).pipe(storage)

    /**
     * Forget a run that examined nothing (still running, no drift recorded): a schedule of a few
     * seconds would otherwise store thousands of empty runs and bury the ones that did work.
     * `true` when the run was removed.
     */
    const discardEmpty = (runId: string): Effect.Effect<boolean, InvalidInput | StorageError> =>
      decodeInput(Identifier)(runId).pipe(
        Effect.flatMap(
          (id) => sql`DELETE FROM reconcile_runs WHERE run_id = ${id} AND status = 'running'
            AND NOT EXISTS (SELECT 1 FROM reconcile_drifts WHERE reconcile_drifts.run_id = ${id}) RETURNING run_id`
        ),
        Effect.map((rows) => rows.length > 0),
        storage
      )

    const get = (runId: string): Effect.Effect<ReconcileRun, InvalidInput | NotFound | StorageError> =>
      decodeInput(Identifier)(runId).pipe(Effect.flatMap(find), storage)

    /** Most recent first. */
    const listRuns = (limit: number): Effect.Effect<ReadonlyArray<ReconcileRun>, InvalidInput | StorageError> =>
      decodeInput(Schema.Int.pipe(Schema.between(1, 500)))(limit).pipe(
        Effect.flatMap((n) => sql`SELECT * FROM reconcile_runs ORDER BY started_at DESC, run_id LIMIT ${n}`),
        Effect.flatMap(decodeRuns),
        storage
      )

    const driftsOf = (runId: string): Effect.Effect<ReadonlyArray<Drift>, InvalidInput | StorageError> =>
      decodeInput(Identifier)(runId).pipe(
        Effect.flatMap((id) => sql`SELECT * FROM reconcile_drifts WHERE run_id = ${id} ORDER BY recorded_at, drift_id`),
        Effect.flatMap(decodeDrifts),
        storage
      )

    /** The latest reconcile pass stored (audits aside): when the schedule last ran. */
    const latest: Effect.Effect<Option.Option<ReconcileRun>, StorageError> = sql`SELECT * FROM reconcile_runs
      WHERE kind = 'pass' ORDER BY started_at DESC, run_id LIMIT 1`.pipe(
      Effect.flatMap(decodeRuns),
      Effect.map((rows) => Option.fromNullable(rows[0])),
      storage
    )

    /**
     * The latest run that did work: examined something, found drift or failed (runs stored before empty runs
     * were discarded are skipped).
     */
    const latestWithWork = (kind: RunKind = "pass"): Effect.Effect<Option.Option<ReconcileRun>, StorageError> =>
      sql`SELECT * FROM reconcile_runs WHERE kind = ${kind} AND (examined > 0 OR drifted > 0 OR status = 'failed')
        ORDER BY started_at DESC, run_id LIMIT 1`.pipe(
        Effect.flatMap(decodeRuns),
        Effect.map((rows) => Option.fromNullable(rows[0])),
        storage
      )

    const decodeRunIds = decodeRows(Schema.Struct({ runId: Schema.String }), "reconcile run")

    /**
     * Retention: delete up to `limit` runs, oldest first, that started and ended before `before`
     * (epoch ms), with their drift records; returns how many of each. A run still `running` that
     * started before the cutoff was left by a process that died (a pass renews its leases for
     * minutes, not for a whole retention). When each kind last started (`lastStartedAt`) stays.
     */
    const purgeEnded = (
      request: PurgeRequest
    ): Effect.Effect<{ readonly runs: number; readonly drifts: number }, InvalidInput | StorageError> =>
      Effect.gen(function* () {
        const req = yield* decodeInput(PurgeRequest)(request)
        return yield* atomically(sql)(
          Effect.gen(function* () {
            const picked = yield* sql`SELECT run_id FROM reconcile_runs
              WHERE started_at < ${req.before} AND (ended_at IS NULL OR ended_at < ${req.before})
              ORDER BY started_at
              LIMIT ${req.limit}
              ${skipLocked(sql)}`.pipe(Effect.flatMap(decodeRunIds))
            if (picked.length === 0) return { runs: 0, drifts: 0 }
            const ids = picked.map((r) => r.runId)
            const drifts = yield* sql`DELETE FROM reconcile_drifts WHERE ${sql.in("run_id", ids)} RETURNING drift_id`
            const runs = yield* sql`DELETE FROM reconcile_runs WHERE ${sql.in("run_id", ids)} RETURNING run_id`
            return { runs: runs.length, drifts: drifts.length }
          })
        )
      }).pipe(storage, Effect.withSpan("ReconcileRuns.purgeEnded"))

    return {
      start,
      startKind,
      lastStartedAt,
      recordDrift,
      finish,
      discardEmpty,
      get,
      listRuns,
      driftsOf,
      latest,
      latestWithWork,
      purgeEnded
    } as const
  })
}) {}
