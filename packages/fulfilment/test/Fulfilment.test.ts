/**
 * The workflow against a real sandbox over HTTP and a real SQLite store.
 */
import { HlConnect } from "@hlconnect/core"
import { Sandbox, SandboxServer, SandboxState, ScriptedFault } from "@hlconnect/sandbox"
import { OrderLines, Outbox, Store } from "@hlconnect/store"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, ManagedRuntime, Option, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Fulfilment } from "../src/Fulfilment.js"
import { registrationGrace } from "../src/PaidOrder.js"

const token = "fulfilment-test-token"
const sandbox = ManagedRuntime.make(
  Sandbox.layerTest({ accessTokens: [Redacted.make(token)], fulfilmentDelay: Duration.hours(1), fulfilmentPolls: 1 })
)
let url = ""
let state: SandboxState
const dir = mkdtempSync(join(tmpdir(), "fulfilment-"))

beforeAll(async () => {
  url = (await sandbox.runPromise(SandboxServer)).url
  state = await sandbox.runPromise(SandboxState)
})
afterAll(async () => {
  await sandbox.dispose()
  rmSync(dir, { recursive: true, force: true })
})

const fast = { maxAttempts: 2, retryPolicies: {} }
const workflow = (accessToken = token) =>
  Fulfilment.Default().pipe(
    Layer.provideMerge(Store.layerSqlite({ filename: join(dir, `${Math.random()}.db`) })),
    Layer.provideMerge(HlConnect.Default({ baseUrl: url, accessToken: Redacted.make(accessToken), ...fast }))
  )

let nextOrder = 300_000 + Math.floor(Math.random() * 100_000)

/** A new paid line for a fresh order: one 3.99 copy of asset 4000 unless `overrides` say otherwise. */
const storedLine = (overrides: Partial<OrderLines.NewOrderLine> = {}) =>
  OrderLines.OrderLines.create({
    orderNumber: String(++nextOrder),
    orderLineId: "1",
    asset: "4000",
    quantity: 1,
    unitPriceMinor: 399,
    totalPriceMinor: 399,
    currency: "USD",
    customerEmail: "john@example.com",
    customerName: "John Customer",
    ...overrides
  }).pipe(Effect.map(({ line }) => line))

/** A paid line with a real validation token from the sandbox. */
const paidLine = (
  options: { readonly asset?: number; readonly expired?: boolean; readonly nextCheckAt?: number } = {}
) =>
  Effect.gen(function* () {
    const hl = yield* HlConnect
    const asset = options.asset ?? 4000
    const validation = yield* hl.validatePurchase({ asset_id: asset, customer_ip: "192.0.2.1", quantity: 1 })
    return yield* storedLine({
      asset: String(asset),
      validationToken: Redacted.make(validation.token),
      tokenExpiresAt: options.expired === true ? 1 : validation.exp_date * 1000,
      ...(options.nextCheckAt === undefined ? {} : { nextCheckAt: options.nextCheckAt })
    })
  })

const registrations = (line: OrderLines.OrderLine) =>
  Effect.promise(() => sandbox.runPromise(state.stats)).pipe(
    Effect.map((stats) => stats.registrations[`${line.orderNumber}:${line.orderLineId}`] ?? 0)
  )
const script = (...faults: ReadonlyArray<ScriptedFault>) =>
  Effect.promise(() => sandbox.runPromise(state.scriptFaults(faults)))
const events = (orderNumber: string) => Outbox.Outbox.eventsForOrder(orderNumber)
const reload = (line: OrderLines.OrderLine) =>
  OrderLines.OrderLines.get({ orderNumber: line.orderNumber, orderLineId: line.orderLineId })

describe("Fulfilment", () => {
  it.live("registers a paid line once, then completes it with an order.completed event and no URL in it", () =>
    Effect.gen(function* () {
      const fulfilment = yield* Fulfilment
      const line = yield* paidLine()
      assert.deepStrictEqual(yield* fulfilment.registerLine(line), { _tag: "Registered" })
      assert.strictEqual((yield* reload(line)).state, "registered")
      assert.strictEqual(yield* registrations(line), 1)

      const first = yield* fulfilment.reconcileOrder([yield* reload(line)])
      assert.strictEqual(first.remote, "Completed")
      assert.deepStrictEqual(first.lines[0]?.outcome, { _tag: "Transitioned", to: "completed" })
      const completed = yield* reload(line)
      assert.strictEqual(completed.state, "completed")
      assert.notInclude(JSON.stringify(Option.getOrNull(completed.remoteSnapshot)), "http", "snapshots keep no URL")
      const [event] = yield* events(line.orderNumber)
      assert.strictEqual(event?.eventType, "order.completed")
      assert.strictEqual(event?.sequence, 1)
      assert.notInclude(JSON.stringify(event?.payload), "/nf/")

      const again = yield* fulfilment.reconcileOrder([completed])
      assert.deepStrictEqual(again.lines[0]?.outcome, { _tag: "Unchanged" }, "a second pass changes nothing")
      assert.strictEqual((yield* events(line.orderNumber)).length, 1)
    }).pipe(Effect.provide(workflow()))
  )

  it.live("is idempotent when the answer to a registration is lost", () =>
    Effect.gen(function* () {
      const fulfilment = yield* Fulfilment
      const line = yield* paidLine()
      yield* script(ScriptedFault.make({ kind: "resetAfter", endpoint: "registerPurchase" }))
      assert.deepStrictEqual(yield* fulfilment.registerLine(line), { _tag: "Registered" })
      assert.strictEqual(yield* registrations(line), 1)
    }).pipe(Effect.provide(workflow()))
  )

  it.live("leaves a line it is registering to itself: not due for a reconciler while the call is in flight", () =>
    Effect.gen(function* () {
      const fulfilment = yield* Fulfilment
      // Recorded as the relay records it: left to the recorder for the grace period.
      const line = yield* paidLine({ nextCheckAt: Date.now() + Duration.toMillis(registrationGrace) })
      // A slow answer that is then lost: the worker retries (it may have been sent) and gets 409.
      yield* script(new ScriptedFault({ kind: "resetAfter", endpoint: "registerPurchase", delay_ms: 1500 }))
      const inFlight = yield* Effect.fork(fulfilment.registerLine(line))
      yield* Effect.sleep("500 millis")
      assert.strictEqual((yield* reload(line)).state, "registering")
      const claimed = yield* OrderLines.OrderLines.claimDueOrders({
        owner: "a-reconciler",
        limit: 1000,
        leaseMs: 60_000
      })
      assert.isFalse(
        claimed.some((claim) => claim.lease.itemId === line.orderNumber),
        "a reconciler must not take over a registration in flight (it would send it a second time)"
      )
      assert.deepStrictEqual(yield* Fiber.join(inFlight), { _tag: "Registered" })
      assert.strictEqual(yield* registrations(line), 1)
    }).pipe(Effect.provide(workflow()))
  )

  it.live("treats a line left `registering` by a crashed worker as possibly sent", () =>
    Effect.gen(function* () {
      const fulfilment = yield* Fulfilment
      const line = yield* paidLine()
      // The crashed worker had sent it: HL Connect has it, our state says `registering`.
      const hl = yield* HlConnect
      yield* hl.registerPurchase({
        token: Option.getOrThrow(line.validationToken).pipe(Redacted.value),
        order_number: Number(line.orderNumber),
        order_line_id: 1,
        unit_price: 3.99,
        line_item_price: 3.99,
        customer: "John Customer"
      })
      const registering = yield* OrderLines.OrderLines.transition({
        orderNumber: line.orderNumber,
        orderLineId: line.orderLineId,
        expectedVersion: line.version,
        to: "registering"
      })
      assert.deepStrictEqual(yield* fulfilment.registerLine(registering), { _tag: "Registered" })
      assert.strictEqual(yield* registrations(line), 1)
    }).pipe(Effect.provide(workflow()))
  )

  it.live("sends nothing for an expired token: the line needs attention, with the reason and an event", () =>
    Effect.gen(function* () {
      const fulfilment = yield* Fulfilment
      const line = yield* paidLine({ expired: true })
      const outcome = yield* fulfilment.registerLine(line)
      assert.strictEqual(outcome._tag, "NeedsAttention")
      // Worded for a person as HL Connect would: a caller can answer "validate again".
      if (outcome._tag === "NeedsAttention")
        assert.strictEqual(outcome.refusal?._tag === "ValidationRejected" && outcome.refusal.reason, "TokenExpired")
      const after = yield* reload(line)
      assert.strictEqual(after.state, "needs_attention")
      assert.include(
        Option.getOrElse(after.attentionReason, () => ""),
        "expired"
      )
      assert.strictEqual(yield* registrations(line), 0)
      assert.strictEqual((yield* events(line.orderNumber))[0]?.eventType, "order.needs_attention")
    }).pipe(Effect.provide(workflow()))
  )

  it.live("names HL Connect's refusal of a registration alongside the reason", () =>
    Effect.gen(function* () {
      const fulfilment = yield* Fulfilment
      const line = yield* paidLine()
      const withPart = yield* storedLine({
        validationToken: Option.getOrThrow(line.validationToken),
        parts: [{ asset: "1", orderLineId: "2" }]
      })
      const outcome = yield* fulfilment.registerLine(withPart)
      assert.deepStrictEqual(
        outcome._tag === "NeedsAttention" ? [outcome.refusal?._tag, outcome.refusal?.message] : outcome._tag,
        ["AssetNotFound", "asset 1 does not exist"]
      )
    }).pipe(Effect.provide(workflow()))
  )

  it.live("keeps a line `registering` with the error when HL Connect stays unavailable", () =>
    Effect.gen(function* () {
      const fulfilment = yield* Fulfilment
      const line = yield* paidLine()
      yield* script(ScriptedFault.make({ kind: "error500", endpoint: "registerPurchase", times: 2 }))
      const outcome = yield* fulfilment.registerLine(line)
      assert.strictEqual(outcome._tag, "RetryLater")
      const after = yield* reload(line)
      assert.strictEqual(after.state, "registering")
      assert.strictEqual(after.attempts, 1)
      assert.include(
        Option.getOrElse(after.lastError, () => ""),
        "unavailable"
      )
      assert.deepStrictEqual(yield* fulfilment.registerLine(after), { _tag: "Registered" }, "the next try succeeds")
    }).pipe(Effect.provide(workflow()))
  )

  it.live("cancels a refunded line: locally when never sent, at HL Connect otherwise", () =>
    Effect.gen(function* () {
      const fulfilment = yield* Fulfilment
      const unsent = yield* paidLine()
      assert.deepStrictEqual(yield* fulfilment.requestCancel(unsent), { _tag: "Cancelled" })
      assert.strictEqual((yield* reload(unsent)).state, "cancelled")
      assert.strictEqual(yield* registrations(unsent), 0)

      const sent = yield* paidLine()
      yield* fulfilment.registerLine(sent)
      assert.deepStrictEqual(yield* fulfilment.requestCancel(yield* reload(sent)), {
        _tag: "Transitioned",
        to: "cancel_requested"
      })
      assert.deepStrictEqual(yield* fulfilment.cancelLine(yield* reload(sent)), { _tag: "Cancelled" })
      assert.strictEqual((yield* reload(sent)).state, "cancelled")
      const remote = yield* fulfilment.readRemote(sent.orderNumber)
      assert.strictEqual(remote._tag === "Completed" ? remote.items[0]?.status : remote._tag, "CANCELLED")
      assert.strictEqual((yield* events(sent.orderNumber)).at(-1)?.eventType, "order.cancelled")
    }).pipe(Effect.provide(workflow()))
  )

  it.live("a step on a stale copy of a line is Skipped, with the state it saw, and changes nothing", () =>
    Effect.gen(function* () {
      const fulfilment = yield* Fulfilment
      const line = yield* paidLine()
      assert.deepStrictEqual(yield* fulfilment.registerLine(line), { _tag: "Registered" })
      const registered = yield* reload(line)
      const published = (yield* events(line.orderNumber)).length
      // `line` is the stale `paid` copy: the intent (paid → registering) loses the race.
      assert.deepStrictEqual(yield* fulfilment.registerLine(line), { _tag: "Skipped", state: "paid" })
      // paid → cancel_requested → cancelled on the stale copy: the first move loses.
      assert.deepStrictEqual(yield* fulfilment.requestCancel(line), { _tag: "Skipped", state: "paid" })
      assert.strictEqual(yield* registrations(line), 1, "sent once")
      const after = yield* reload(line)
      assert.strictEqual(after.state, "registered")
      assert.strictEqual(after.version, registered.version, "nothing written")
      assert.strictEqual((yield* events(line.orderNumber)).length, published, "no event published")
    }).pipe(Effect.provide(workflow()))
  )

  it.live("records the remote status when HL Connect refuses a cancellation", () =>
    Effect.gen(function* () {
      const fulfilment = yield* Fulfilment
      const line = yield* paidLine({ asset: 4999 })
      yield* fulfilment.registerLine(line)
      yield* Effect.promise(() => sandbox.runPromise(state.settleLine(Number(line.orderNumber), 1, "FAILED")))
      yield* fulfilment.requestCancel(yield* reload(line))
      const outcome = yield* fulfilment.cancelLine(yield* reload(line))
      assert.strictEqual(outcome._tag, "NeedsAttention")
      if (outcome._tag === "NeedsAttention") {
        assert.strictEqual(outcome.refusal?._tag, "InvalidOrderStatus")
        assert.strictEqual(outcome.remoteStatus, "FAILED")
      }
      const after = yield* reload(line)
      assert.include(
        Option.getOrElse(after.attentionReason, () => ""),
        "FAILED"
      )
    }).pipe(Effect.provide(workflow()))
  )

  it.live("changes nothing in a dry run", () =>
    Effect.gen(function* () {
      const fulfilment = yield* Fulfilment
      const line = yield* paidLine()
      const report = yield* fulfilment.reconcileOrder([line], { dryRun: true })
      assert.strictEqual(report.lines[0]?.action, "Register")
      assert.deepStrictEqual(yield* reload(line), line)
      assert.strictEqual(yield* registrations(line), 0)
    }).pipe(Effect.provide(workflow()))
  )

  it.live("halts on a token HL Connect refuses, saying what to check", () =>
    Effect.gen(function* () {
      const fulfilment = yield* Fulfilment
      const line = yield* storedLine({
        validationToken: Redacted.make("whatever"),
        tokenExpiresAt: Date.now() + 60_000
      })
      const error = yield* Effect.flip(fulfilment.registerLine(line))
      assert.strictEqual(error._tag, "FulfilmentHalted")
      if (error._tag === "FulfilmentHalted") assert.include(error.message, "HLCONNECT_TOKEN")
      assert.notInclude(error.message, "wrong-token")
    }).pipe(Effect.provide(workflow("wrong-token")))
  )
})
