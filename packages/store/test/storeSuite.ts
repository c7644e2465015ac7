import { SqlClient } from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Redacted, TestClock } from "effect"
import { Inbox } from "../src/Inbox.js"
import * as InboxWriter from "../src/InboxWriter.js"
import * as Migrations from "../src/Migrations.js"
import { type NewOrderLine, OrderLines } from "../src/OrderLines.js"
import { type Delivery, type DeliveryState, Outbox } from "../src/Outbox.js"
import { ReconcileRuns } from "../src/ReconcileRuns.js"
import { layerServices, Store } from "../src/Store.js"
import { Subscribers } from "../src/Subscribers.js"
import * as SecretBox from "../src/SecretBox.js"
import { type EngineUnderTest, freshKeyRing } from "./utils.js"

const line = (orderNumber: string, orderLineId: string, extra: Partial<NewOrderLine> = {}): NewOrderLine => ({
  orderNumber,
  orderLineId,
  asset: "HL-ASSET-1",
  quantity: 2,
  unitPriceMinor: 1250,
  totalPriceMinor: 2500,
  currency: "EUR",
  customerEmail: "buyer@example.com",
  validationToken: Redacted.make("tok_secret_123"),
  tokenExpiresAt: 1_000_000,
  ...extra
})

const count = (table: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient
    const rows = yield* sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM ${sql(table)}`
    return Number(rows[0]?.n)
  })

const secret = Redacted.make("whsec_abcdefghijklmnop1234")

/** Untrusted input as it arrives from JSON (the type system cannot vouch for it). */
const fromJson = (json: string) => JSON.parse(json)

/** The behavioural suite, written once and run against every engine. */
export const storeSuite = (engine: EngineUnderTest) =>
  describe(`store on ${engine.name}`, () => {
    const provideStore = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.provide(self, engine.store())

    describe("migrations", () => {
      it.effect("from empty: creates every table; a second run is a no-op", () =>
        Effect.gen(function* () {
          const first = yield* Migrations.run()
          assert.deepStrictEqual(
            first.map(([id]) => id),
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
          )
          const again = yield* Migrations.run()
          assert.strictEqual(again.length, 0)
          for (const table of [
            "orders",
            "order_lines",
            "webhook_inbox",
            "subscribers",
            "subscriber_secrets",
            "outbound_events",
            "deliveries",
            "reconcile_runs",
            "reconcile_drifts",
            "reconcile_starts"
          ]) {
            assert.strictEqual(yield* count(table), 0, table)
          }
        }).pipe(Effect.provide(engine.emptyClient()))
      )

      it.effect("from the previous version: data written by v1 survives the upgrade", () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient
          yield* Migrations.run({ upTo: 1 })
          yield* sql`INSERT INTO orders (order_number, next_check_at, attempts, created_at, updated_at) VALUES ('V1-1', 5, 0, 1, 1)`
          yield* sql`INSERT INTO order_lines (order_number, order_line_id, asset, quantity, unit_price_minor, total_price_minor,
            currency, customer_email, state, attempts, version, created_at, updated_at)
            VALUES ('V1-1', 'L1', 'asset', 1, 100, 100, 'EUR', 'a@b.example', 'registered', 3, 4, 1, 2)`
          yield* sql`INSERT INTO webhook_inbox (event_id, source, event_type, body, received_at, state, attempts, next_attempt_at, updated_at)
            VALUES ('evt-v1', 'vendor', 'order.paid', '{"x":1}', 1, 'pending', 0, 1, 1)`
          const upgraded = yield* Migrations.run()
          assert.deepStrictEqual(
            upgraded.map(([id]) => id),
            [2, 3, 4, 5, 6, 7, 8, 9, 10]
          )
          const services = yield* Layer.build(layerServices)
          const found = yield* OrderLines.get({ orderNumber: "V1-1", orderLineId: "L1" }).pipe(Effect.provide(services))
          assert.strictEqual(found.state, "registered")
          assert.strictEqual(found.version, 4)
          const event = yield* Inbox.get("evt-v1").pipe(Effect.provide(services))
          assert.isTrue(Option.isSome(event))
          assert.isTrue(Option.isNone(Option.flatMap(event, (e) => e.processedAt)))
        }).pipe(Effect.scoped, Effect.provide(engine.emptyClient()))
      )

      it.effect(
        "from v3: a subscriber's secret moves to subscriber_secrets (still signs, never readable elsewhere), sealed by resealSecrets",
        () =>
          Effect.gen(function* () {
            const sql = yield* SqlClient
            yield* Migrations.run({ upTo: 3 })
            yield* sql`INSERT INTO subscribers (subscriber_id, url, signing_secret, secret_hint, event_filter, enabled,
            disabled_reason, disabled_at, created_at, updated_at)
            VALUES ('sub-v3', 'https://v3.example/h', 'whsec_abcdefghijklmnop1234', 'whsec_…1234', '["*"]', 0, 'paused', 7, 1, 5)`
            const upgraded = yield* Migrations.run()
            assert.deepStrictEqual(
              upgraded.map(([id]) => id),
              [4, 5, 6, 7, 8, 9, 10]
            )
            const services = yield* Layer.build(layerServices)
            const sub = yield* Subscribers.get("sub-v3").pipe(Effect.provide(services))
            assert.strictEqual(sub.secretHint, "whsec_…1234")
            assert.isFalse(sub.enabled)
            assert.strictEqual(Option.getOrNull(sub.disabledReason), "paused")
            assert.isTrue(Option.isNone(sub.failingSince))
            assert.strictEqual(sub.failureWarning, 0)
            const secrets = yield* Subscribers.signingSecrets("sub-v3").pipe(Effect.provide(services))
            assert.deepStrictEqual(secrets.map(Redacted.value), ["whsec_abcdefghijklmnop1234"])
            const hints = yield* Subscribers.secretHints(["sub-v3"]).pipe(Effect.provide(services))
            assert.deepStrictEqual(
              hints.map((h) => [h.secretHint, h.createdAt, Option.getOrNull(h.expiresAt)]),
              [["whsec_…1234", 5, null]]
            )
            // The old column is gone: the secret lives in one place only.
            const column = yield* Effect.exit(sql`SELECT signing_secret FROM subscribers`)
            assert.isTrue(Exit.isFailure(column))
            // Stored in plaintext before sealing existed: start-up seals it, once.
            assert.deepStrictEqual(yield* Subscribers.resealSecrets.pipe(Effect.provide(services)), {
              sealed: 1,
              resealed: 0
            })
            assert.deepStrictEqual(yield* Subscribers.resealSecrets.pipe(Effect.provide(services)), {
              sealed: 0,
              resealed: 0
            })
            const [stored] = yield* sql<{
              secret: string
              keyId: string | null
            }>`SELECT secret, key_id FROM subscriber_secrets`
            assert.notInclude(stored?.secret, "abcdefghijklmnop")
            assert.strictEqual(stored?.keyId, (yield* SecretBox.SecretBox).currentKeyId)
            const opened = yield* Subscribers.signingSecrets("sub-v3").pipe(Effect.provide(services))
            assert.deepStrictEqual(opened.map(Redacted.value), ["whsec_abcdefghijklmnop1234"])
          }).pipe(Effect.scoped, Effect.provide(engine.emptyClient()))
      )
    })

    describe("order lines", () => {
      it.effect("create is idempotent per (order_number, order_line_id)", () =>
        Effect.gen(function* () {
          const first = yield* OrderLines.create(line("1001", "A"))
          assert.isTrue(first.created)
          assert.strictEqual(first.line.state, "paid")
          assert.strictEqual(first.line.version, 1)
          assert.strictEqual(
            Option.map(first.line.validationToken, Redacted.value).pipe(Option.getOrNull),
            "tok_secret_123"
          )
          assert.notInclude(String(first.line.validationToken), "tok_secret_123")
          const again = yield* OrderLines.create(line("1001", "A", { asset: "other" }))
          assert.isFalse(again.created)
          assert.strictEqual(again.line.asset, "HL-ASSET-1")
          assert.strictEqual(yield* count("order_lines"), 1)
        }).pipe(provideStore)
      )

      it.effect("keeps a line's ensemble parts, and refuses too many", () =>
        Effect.gen(function* () {
          const parts = [
            { asset: "4004", orderLineId: "2" },
            { asset: "4005", orderLineId: "3" }
          ]
          const { line: created } = yield* OrderLines.create(line("1009", "1", { parts }))
          assert.deepStrictEqual(Option.getOrNull(created.parts), parts)
          const plain = yield* OrderLines.create(line("1009", "4"))
          assert.isTrue(Option.isNone(plain.line.parts))
          const tooMany = Array.from({ length: 65 }, (_, i) => ({ asset: "4004", orderLineId: `p${i}` }))
          const refused = yield* Effect.flip(OrderLines.create(line("1010", "1", { parts: tooMany })))
          assert.strictEqual(refused._tag, "InvalidInput")
          assert.strictEqual(yield* count("order_lines"), 2)
        }).pipe(provideStore)
      )

      it.effect(
        "refuses ill-formed caller text itself (lone surrogates, control characters, line breaks) and stores the NFC spelling",
        () =>
          Effect.gen(function* () {
            const refused = (extra: Partial<NewOrderLine>) =>
              OrderLines.create(line("1011", "A", extra)).pipe(
                Effect.flip,
                Effect.map((e) => (e._tag === "InvalidInput" ? `${e.field}: ${e.message}` : e._tag))
              )
            assert.strictEqual(
              yield* refused({ customerName: "Ann \ud83c" }),
              "customerName: contains a lone surrogate at index 4"
            )
            assert.strictEqual(
              yield* refused({ customerName: "a\u0000b" }),
              "customerName: contains the control character U+0000 at index 1"
            )
            assert.strictEqual(
              yield* refused({ customerName: "Ann\u0085Lee" }),
              "customerName: contains the line break U+0085 at index 3; it must be a single line"
            )
            assert.strictEqual(
              yield* refused({ customerEmail: "a\u0000@b" }),
              "customerEmail: contains the control character U+0000 at index 1"
            )
            assert.strictEqual(
              yield* refused({ validationToken: Redacted.make("tok\udc00") }),
              "validationToken: contains a lone surrogate at index 3"
            )
            assert.strictEqual(
              yield* refused({ asset: "4000\u009b" }),
              "asset: contains the control character U+009B at index 4"
            )
            assert.strictEqual(yield* count("order_lines"), 0)
            assert.strictEqual(yield* count("orders"), 0)

            const { line: created } = yield* OrderLines.create(
              line("1011", "A", { customerName: "Zoe\u0308", customerEmail: "zoe\u0308@example.com" })
            )
            assert.strictEqual(Option.getOrNull(created.customerName), "Zo\u00eb")
            assert.strictEqual(created.customerEmail, "zo\u00eb@example.com")
            const replaced = yield* OrderLines.replaceValidationToken({
              orderNumber: "1011",
              orderLineId: "A",
              expectedVersion: 1,
              token: Redacted.make("new\u0000")
            }).pipe(Effect.flip)
            assert.strictEqual(
              replaced._tag === "InvalidInput" ? `${replaced.field}: ${replaced.message}` : replaced._tag,
              "token: contains the control character U+0000 at index 3"
            )
            assert.deepStrictEqual(yield* OrderLines.get({ orderNumber: "1011", orderLineId: "A" }), created)
          }).pipe(provideStore)
      )

      it.effect("walks the happy path, bumping the version each step", () =>
        Effect.gen(function* () {
          const { line: created } = yield* OrderLines.create(line("1002", "A"))
          let version = created.version
          for (const to of ["registering", "registered", "processing", "completed"] as const) {
            const next = yield* OrderLines.transition({
              orderNumber: "1002",
              orderLineId: "A",
              expectedVersion: version,
              to
            })
            assert.strictEqual(next.state, to)
            assert.strictEqual(next.version, version + 1)
            version = next.version
          }
          const done = yield* OrderLines.get({ orderNumber: "1002", orderLineId: "A" })
          assert.isTrue(Option.isNone(done.nextCheckAt), "terminal lines are not checked again")
        }).pipe(provideStore)
      )

      it.effect("an illegal transition is a typed error and changes nothing", () =>
        Effect.gen(function* () {
          const { line: created } = yield* OrderLines.create(line("1003", "A"))
          const error = yield* OrderLines.transition({
            orderNumber: "1003",
            orderLineId: "A",
            expectedVersion: 1,
            to: "completed"
          }).pipe(Effect.flip)
          assert.strictEqual(error._tag, "IllegalTransition")
          if (error._tag === "IllegalTransition") {
            assert.strictEqual(error.from, "paid")
            assert.strictEqual(error.to, "completed")
          }
          const after = yield* OrderLines.get({ orderNumber: "1003", orderLineId: "A" })
          assert.deepStrictEqual(after, created)
        }).pipe(provideStore)
      )

      it.effect("a stale compare-and-set fails with StaleVersion and does not undo newer work", () =>
        Effect.gen(function* () {
          yield* OrderLines.create(line("1004", "A"))
          yield* OrderLines.transition({ orderNumber: "1004", orderLineId: "A", expectedVersion: 1, to: "registering" })
          const stale = yield* OrderLines.transition({
            orderNumber: "1004",
            orderLineId: "A",
            expectedVersion: 1,
            to: "cancel_requested"
          }).pipe(Effect.flip)
          assert.strictEqual(stale._tag, "StaleVersion")
          if (stale._tag === "StaleVersion") assert.strictEqual(stale.actual, 2)
          const staleCheck = yield* OrderLines.recordCheck({
            orderNumber: "1004",
            orderLineId: "A",
            expectedVersion: 1,
            lastError: "x"
          }).pipe(Effect.flip)
          assert.strictEqual(staleCheck._tag, "StaleVersion")
          const current = yield* OrderLines.get({ orderNumber: "1004", orderLineId: "A" })
          assert.strictEqual(current.state, "registering")
          assert.isTrue(Option.isNone(current.lastError))
        }).pipe(provideStore)
      )

      it.effect("needs_attention requires a reason and records it; recordCheck keeps the state", () =>
        Effect.gen(function* () {
          yield* OrderLines.create(line("1005", "A"))
          const missing = yield* OrderLines.transition({
            orderNumber: "1005",
            orderLineId: "A",
            expectedVersion: 1,
            to: "needs_attention"
          }).pipe(Effect.flip)
          assert.strictEqual(missing._tag, "InvalidInput")
          const checked = yield* OrderLines.recordCheck({
            orderNumber: "1005",
            orderLineId: "A",
            expectedVersion: 1,
            attempts: 1,
            nextCheckAt: 60_000,
            lastError: "timeout",
            remoteSnapshot: { status: "unknown", n: 1 }
          })
          assert.strictEqual(checked.state, "paid")
          assert.deepStrictEqual(Option.getOrNull(checked.remoteSnapshot), { status: "unknown", n: 1 })
          const flagged = yield* OrderLines.transition({
            orderNumber: "1005",
            orderLineId: "A",
            expectedVersion: 2,
            to: "needs_attention",
            reason: "token expired before registration"
          })
          assert.strictEqual(Option.getOrNull(flagged.attentionReason), "token expired before registration")
          // Parked for an operator: no longer due for the reconciler (it had a next check at 60 s).
          assert.isTrue(Option.isNone(flagged.nextCheckAt))
          const resolved = yield* OrderLines.transition({
            orderNumber: "1005",
            orderLineId: "A",
            expectedVersion: 3,
            to: "cancel_requested"
          })
          assert.isTrue(Option.isNone(resolved.attentionReason))
        }).pipe(provideStore)
      )

      it.effect(
        "replaceValidationToken: compare-and-set, paid or needs_attention only, needs_attention goes back to paid",
        () =>
          Effect.gen(function* () {
            const key = { orderNumber: "1011", orderLineId: "A" }
            yield* OrderLines.create(line("1011", "A"))
            const fresh = Redacted.make("tok_fresh_456")
            const onPaid = yield* OrderLines.replaceValidationToken({
              ...key,
              expectedVersion: 1,
              token: fresh,
              tokenExpiresAt: 2_000_000
            })
            assert.strictEqual(onPaid.state, "paid")
            assert.strictEqual(onPaid.version, 2)
            assert.strictEqual(
              Option.map(onPaid.validationToken, Redacted.value).pipe(Option.getOrNull),
              "tok_fresh_456"
            )
            assert.strictEqual(Option.getOrNull(onPaid.tokenExpiresAt), 2_000_000)
            const flagged = yield* OrderLines.transition({
              ...key,
              expectedVersion: 2,
              to: "needs_attention",
              reason: "validation token expired",
              lastError: "expired",
              attempts: 3
            })
            const stale = yield* OrderLines.replaceValidationToken({ ...key, expectedVersion: 2, token: fresh }).pipe(
              Effect.flip
            )
            assert.strictEqual(stale._tag, "StaleVersion")
            const back = yield* OrderLines.replaceValidationToken({
              ...key,
              expectedVersion: flagged.version,
              token: Redacted.make("tok_third")
            })
            assert.strictEqual(back.state, "paid")
            assert.strictEqual(back.version, flagged.version + 1)
            assert.isTrue(Option.isNone(back.attentionReason))
            assert.isTrue(Option.isNone(back.lastError))
            assert.isTrue(Option.isNone(back.tokenExpiresAt), "an omitted expiry clears the old one")
            assert.strictEqual(back.attempts, 0)
            assert.isTrue(Option.isSome(back.nextCheckAt), "due for a check again")
            assert.strictEqual(String(back.validationToken.pipe(Option.getOrNull)), "<redacted>")
            const registering = yield* OrderLines.transition({
              ...key,
              expectedVersion: back.version,
              to: "registering"
            })
            const refused = yield* OrderLines.replaceValidationToken({
              ...key,
              expectedVersion: registering.version,
              token: fresh
            }).pipe(Effect.flip)
            assert.strictEqual(refused._tag, "IllegalTransition")
            if (refused._tag === "IllegalTransition") assert.strictEqual(refused.from, "registering")
            const missing = yield* OrderLines.replaceValidationToken({
              orderNumber: "nope",
              orderLineId: "A",
              expectedVersion: 1,
              token: fresh
            }).pipe(Effect.flip)
            assert.strictEqual(missing._tag, "NotFound")
            const empty = yield* OrderLines.replaceValidationToken({
              ...key,
              expectedVersion: registering.version,
              token: Redacted.make("")
            }).pipe(Effect.flip)
            assert.strictEqual(empty._tag, "InvalidInput")
            const after = yield* OrderLines.get(key)
            assert.deepStrictEqual(after, registering)
          }).pipe(provideStore)
      )

      it.effect(
        "bad input (unknown state, malformed ids, oversize snapshot) is InvalidInput and leaves the database unchanged",
        () =>
          Effect.gen(function* () {
            const { line: created } = yield* OrderLines.create(line("1006", "A"))
            const unknownState = yield* OrderLines.transition(
              fromJson('{"orderNumber":"1006","orderLineId":"A","expectedVersion":1,"to":"shipped"}')
            ).pipe(Effect.flip)
            assert.strictEqual(unknownState._tag, "InvalidInput")
            if (unknownState._tag === "InvalidInput") assert.strictEqual(unknownState.field, "to")
            const badId = yield* OrderLines.create(line("10 07; DROP TABLE orders", "A")).pipe(Effect.flip)
            assert.strictEqual(badId._tag, "InvalidInput")
            if (badId._tag === "InvalidInput") assert.strictEqual(badId.field, "orderNumber")
            const badQty = yield* OrderLines.create(line("1007", "A", { quantity: 0 })).pipe(Effect.flip)
            assert.strictEqual(badQty._tag, "InvalidInput")
            const huge = yield* OrderLines.recordCheck({
              orderNumber: "1006",
              orderLineId: "A",
              expectedVersion: 1,
              remoteSnapshot: { blob: "x".repeat(70_000) }
            }).pipe(Effect.flip)
            assert.strictEqual(huge._tag, "InvalidInput")
            assert.strictEqual(yield* count("order_lines"), 1)
            assert.strictEqual(yield* count("orders"), 1)
            assert.deepStrictEqual(yield* OrderLines.get({ orderNumber: "1006", orderLineId: "A" }), created)
            const missing = yield* OrderLines.get({ orderNumber: "nope", orderLineId: "A" }).pipe(Effect.flip)
            assert.strictEqual(missing._tag, "NotFound")
          }).pipe(provideStore)
      )

      it.effect("reads orders by number and lists by state with cursor paging", () =>
        Effect.gen(function* () {
          for (const [o, l] of [
            ["2001", "A"],
            ["2001", "B"],
            ["2002", "A"],
            ["2003", "A"],
            ["2003", "B"]
          ] as const) {
            yield* OrderLines.create(line(o, l))
          }
          yield* OrderLines.transition({ orderNumber: "2002", orderLineId: "A", expectedVersion: 1, to: "registering" })
          const order = yield* OrderLines.findOrder("2001")
          assert.deepStrictEqual(
            Option.map(order, (o) => o.lines.map((l) => l.orderLineId)),
            Option.some(["A", "B"])
          )
          assert.isTrue(Option.isNone(yield* OrderLines.findOrder("9999")))
          const seen: Array<string> = []
          let cursor: string | undefined
          let pages = 0
          do {
            const page = yield* OrderLines.listByState({
              state: "paid",
              limit: 2,
              ...(cursor === undefined ? {} : { cursor })
            })
            seen.push(...page.items.map((l) => `${l.orderNumber}/${l.orderLineId}`))
            cursor = Option.getOrUndefined(page.nextCursor)
            pages++
          } while (cursor !== undefined)
          assert.deepStrictEqual(seen, ["2001/A", "2001/B", "2003/A", "2003/B"])
          assert.strictEqual(pages, 2)
          const bad = yield* OrderLines.listByState({ state: "paid", limit: 2, cursor: "not-a-cursor" }).pipe(
            Effect.flip
          )
          assert.strictEqual(bad._tag, "InvalidInput")
        }).pipe(provideStore)
      )

      it.effect("reads many orders at once, and pages orders (not lines) by state", () =>
        Effect.gen(function* () {
          for (const [o, l] of [
            ["2101", "A"],
            ["2101", "B"],
            ["2102", "A"],
            ["2103", "A"],
            ["2103", "B"],
            ["2104", "A"]
          ] as const) {
            yield* OrderLines.create(line(o, l))
          }
          yield* OrderLines.transition({ orderNumber: "2102", orderLineId: "A", expectedVersion: 1, to: "registering" })
          const found = yield* OrderLines.findOrders(["2101", "2103", "9999", "2101"])
          assert.deepStrictEqual([...found.keys()].sort(), ["2101", "2103"])
          assert.deepStrictEqual(
            found.get("2103")?.lines.map((l) => l.orderLineId),
            ["A", "B"]
          )
          assert.strictEqual((yield* OrderLines.findOrders([])).size, 0)
          assert.strictEqual((yield* OrderLines.findOrders(["bad id!"]).pipe(Effect.flip))._tag, "InvalidInput")

          const seen: Array<string> = []
          let cursor: string | undefined
          do {
            const page = yield* OrderLines.listOrdersByState({
              state: "paid",
              limit: 2,
              ...(cursor === undefined ? {} : { cursor })
            })
            seen.push(...page.items.map((item) => item.orderNumber))
            cursor = Option.getOrUndefined(page.nextCursor)
          } while (cursor !== undefined)
          assert.deepStrictEqual(seen, ["2101", "2103", "2104"], "each order once, however many lines it has")
          const first = yield* OrderLines.listOrdersByState({ state: "paid", limit: 3 })
          const resumed = yield* OrderLines.listOrdersByState({
            state: "paid",
            limit: 3,
            cursor: first.items[0]?.cursor ?? ""
          })
          assert.deepStrictEqual(
            resumed.items.map((item) => item.orderNumber),
            ["2103", "2104"],
            "an item's cursor resumes after it"
          )
          const bad = yield* OrderLines.listOrdersByState({ state: "paid", limit: 2, cursor: "nope" }).pipe(Effect.flip)
          assert.strictEqual(bad._tag, "InvalidInput")
        }).pipe(provideStore)
      )

      it.effect("a claim of many orders carries each order's lines, exactly as findOrders reads them", () =>
        Effect.gen(function* () {
          // Lines created out of key order, across orders, so grouping and ordering are both tested.
          for (const [order, lineId] of [
            ["3103", "B"],
            ["3101", "C"],
            ["3102", "A"],
            ["3101", "A"],
            ["3103", "A"],
            ["3101", "B"]
          ] as const) {
            yield* OrderLines.create(line(order, lineId))
          }
          yield* OrderLines.create(line("3104", "A", { nextCheckAt: 10_000 }))
          const claims = yield* OrderLines.claimDueOrders({ owner: "batch", limit: 10, leaseMs: 1000 })
          assert.deepStrictEqual(claims.map((c) => c.lease.itemId).sort(), ["3101", "3102", "3103"])
          const stored = yield* OrderLines.findOrders(["3101", "3102", "3103"])
          for (const claim of claims) {
            const order = stored.get(claim.lease.itemId)
            assert.deepStrictEqual(
              claim.lines.map((l) => [l.orderNumber, l.orderLineId, l.state, l.version]),
              (order?.lines ?? []).map((l) => [l.orderNumber, l.orderLineId, l.state, l.version])
            )
            assert.strictEqual(claim.attempts, 1)
          }
          assert.deepStrictEqual(
            claims.find((c) => c.lease.itemId === "3101")?.lines.map((l) => l.orderLineId),
            ["A", "B", "C"]
          )
          assert.deepStrictEqual(
            claims.find((c) => c.lease.itemId === "3103")?.lines.map((l) => l.orderLineId),
            ["A", "B"]
          )
        }).pipe(provideStore)
      )

      it.effect("claims per ORDER NUMBER: one worker gets all lines; lease expiry returns the order", () =>
        Effect.gen(function* () {
          yield* OrderLines.create(line("3001", "A"))
          yield* OrderLines.create(line("3001", "B"))
          yield* OrderLines.create(line("3002", "A", { nextCheckAt: 10_000 }))
          // The count a pass announces (progress): due orders, not lines, and not the leased ones.
          assert.strictEqual(yield* OrderLines.countDueOrders(0), 1)
          assert.strictEqual(yield* OrderLines.countDueOrders(10_000), 2)
          assert.strictEqual((yield* OrderLines.countDueOrders(-1).pipe(Effect.flip))._tag, "InvalidInput")
          const first = yield* OrderLines.claimDueOrders({ owner: "w1", limit: 10, leaseMs: 1000 })
          assert.deepStrictEqual(
            first.map((c) => c.lease.itemId),
            ["3001"]
          )
          assert.deepStrictEqual(
            first[0]?.lines.map((l) => l.orderLineId),
            ["A", "B"]
          )
          assert.strictEqual(yield* OrderLines.countDueOrders(0), 0)
          assert.strictEqual((yield* OrderLines.claimDueOrders({ owner: "w2", limit: 10, leaseMs: 1000 })).length, 0)
          yield* TestClock.adjust(1001)
          const reclaimed = yield* OrderLines.claimDueOrders({ owner: "w2", limit: 10, leaseMs: 60_000 })
          assert.deepStrictEqual(
            reclaimed.map((c) => c.lease.itemId),
            ["3001"]
          )
          const oldLease = first[0]?.lease
          if (oldLease === undefined) return assert.fail("no lease")
          const lost = yield* OrderLines.releaseOrder(oldLease).pipe(Effect.flip)
          assert.strictEqual(lost._tag, "LeaseLost")
          const lease = reclaimed[0]?.lease
          if (lease === undefined) return assert.fail("no lease")
          const renewed = yield* OrderLines.renewOrderLease(lease, 120_000)
          assert.strictEqual(renewed.expiresAt, 1001 + 120_000)
          // Finish one line and schedule the other: release recomputes the next check from the lines.
          yield* OrderLines.recordCheck({
            orderNumber: "3001",
            orderLineId: "A",
            expectedVersion: 1,
            nextCheckAt: 50_000
          })
          yield* OrderLines.transition({ orderNumber: "3001", orderLineId: "B", expectedVersion: 1, to: "failed" })
          yield* OrderLines.releaseOrder(renewed)
          const order = yield* OrderLines.findOrder("3001")
          assert.deepStrictEqual(
            Option.flatMap(order, (o) => o.nextCheckAt),
            Option.some(50_000)
          )
          yield* TestClock.adjust(10_000)
          const due = yield* OrderLines.claimDueOrders({ owner: "w3", limit: 10, leaseMs: 1000 })
          assert.deepStrictEqual(
            due.map((c) => c.lease.itemId),
            ["3002"]
          )
        }).pipe(provideStore)
      )
    })

    describe("inbox", () => {
      const event = (eventId: string, body = '{"ok":true}') => ({
        eventId,
        source: "vendor",
        eventType: "order.paid",
        body
      })

      it.effect("takes batches in one statement and tells new from duplicate", () =>
        Effect.gen(function* () {
          const first = yield* Inbox.appendBatch([event("e1"), event("e2"), event("e1")])
          assert.deepStrictEqual(
            first.map((o) => o.outcome),
            ["new", "new", "duplicate"]
          )
          const second = yield* Inbox.appendBatch([event("e2"), event("e3")])
          assert.deepStrictEqual(
            second.map((o) => o.outcome),
            ["duplicate", "new"]
          )
          assert.strictEqual(yield* count("webhook_inbox"), 3)
        }).pipe(provideStore)
      )

      it.effect("an oversize or malformed event rejects the whole batch, nothing written", () =>
        Effect.gen(function* () {
          const big = yield* Inbox.appendBatch([event("ok-1"), event("big", "x".repeat(1024 * 1024 + 1))]).pipe(
            Effect.flip
          )
          assert.strictEqual(big._tag, "InvalidInput")
          if (big._tag === "InvalidInput") assert.strictEqual(big.field, "1.body")
          const badId = yield* Inbox.appendBatch([event("has space")]).pipe(Effect.flip)
          assert.strictEqual(badId._tag, "InvalidInput")
          const empty = yield* Inbox.appendBatch([]).pipe(Effect.flip)
          assert.strictEqual(empty._tag, "InvalidInput")
          assert.strictEqual(yield* count("webhook_inbox"), 0)
        }).pipe(provideStore)
      )

      it.live(
        "InboxWriter (engine's choice) behaves like appendBatch: new/duplicate per event, rows readable, bad input writes nothing",
        () =>
          Effect.gen(function* () {
            const writer = yield* InboxWriter.InboxWriter
            assert.strictEqual(writer.kind, engine.name === "sqlite" ? "sqlite-worker" : "store")
            const first = yield* writer.appendBatch([event("w1"), event("w2"), event("w1")])
            assert.deepStrictEqual(
              first.map((o) => [o.eventId, o.outcome]),
              [
                ["w1", "new"],
                ["w2", "new"],
                ["w1", "duplicate"]
              ]
            )
            const second = yield* writer.appendBatch([event("w2"), event("w3")])
            assert.deepStrictEqual(
              second.map((o) => o.outcome),
              ["duplicate", "new"]
            )
            // The store's own path agrees on what is there, and the other way round.
            const viaStore = yield* Inbox.appendBatch([event("w3"), event("w4")])
            assert.deepStrictEqual(
              viaStore.map((o) => o.outcome),
              ["duplicate", "new"]
            )
            const afterStore = yield* writer.appendBatch([event("w4")])
            assert.deepStrictEqual(
              afterStore.map((o) => o.outcome),
              ["duplicate"]
            )
            const stored = yield* Inbox.get("w1")
            assert.deepStrictEqual(
              Option.map(stored, (e) => [
                e.state,
                e.attempts,
                e.source,
                e.eventType,
                e.body,
                Option.isNone(e.lastError)
              ]),
              Option.some(["pending", 0, "vendor", "order.paid", '{"ok":true}', true])
            )
            const bad = yield* writer
              .appendBatch([event("w5"), event("big", "x".repeat(1024 * 1024 + 1))])
              .pipe(Effect.flip)
            assert.strictEqual(bad._tag, "InvalidInput")
            if (bad._tag === "InvalidInput") assert.strictEqual(bad.field, "1.body")
            const empty = yield* Effect.flip(writer.appendBatch([]))
            assert.strictEqual(empty._tag, "InvalidInput")
            assert.strictEqual(yield* count("webhook_inbox"), 4)
            const claimed = yield* Inbox.claim({ owner: "t", limit: 10, leaseMs: 1000 })
            assert.deepStrictEqual(claimed.map((c) => c.event.eventId).sort(), ["w1", "w2", "w3", "w4"])
          }).pipe(Effect.provide(InboxWriter.layer.pipe(Layer.provideMerge(engine.store()))))
      )

      it.effect("leases: no double claim while live, reclaim after TTL, complete requires the lease", () =>
        Effect.gen(function* () {
          yield* Inbox.appendBatch([event("a"), event("b"), event("c")])
          const w1 = yield* Inbox.claim({ owner: "w1", limit: 2, leaseMs: 5000 })
          const w2 = yield* Inbox.claim({ owner: "w2", limit: 5, leaseMs: 5000 })
          assert.deepStrictEqual(
            w1
              .map((c) => c.event.eventId)
              .concat(w2.map((c) => c.event.eventId))
              .sort(),
            ["a", "b", "c"]
          )
          assert.strictEqual(w2.length, 1)
          assert.strictEqual((yield* Inbox.claim({ owner: "w3", limit: 5, leaseMs: 5000 })).length, 0)
          const [a, b] = w1
          if (a === undefined || b === undefined) return assert.fail("expected two claims")
          yield* Inbox.complete(a.lease)
          assert.strictEqual((yield* Inbox.complete(a.lease).pipe(Effect.flip))._tag, "LeaseLost")
          const renewed = yield* Inbox.renew(b.lease, 20_000)
          yield* TestClock.adjust(5001)
          // w2's lease lapsed, w1's renewed one did not.
          const w3 = yield* Inbox.claim({ owner: "w3", limit: 5, leaseMs: 5000 })
          assert.deepStrictEqual(
            w3.map((c) => c.event.eventId),
            w2.map((c) => c.event.eventId)
          )
          assert.strictEqual(w3[0]?.event.attempts, 2)
          const stale = w2[0]
          if (stale === undefined) return assert.fail("expected a claim")
          assert.strictEqual((yield* Inbox.complete(stale.lease).pipe(Effect.flip))._tag, "LeaseLost")
          assert.strictEqual((yield* Inbox.renew(stale.lease, 1000).pipe(Effect.flip))._tag, "LeaseLost")
          yield* Inbox.complete(renewed)
          const done = yield* Inbox.get("a")
          assert.strictEqual(Option.map(done, (e) => e.state).pipe(Option.getOrNull), "processed")
        }).pipe(provideStore)
      )

      it.effect("retryLater delays, deadLetter parks, replay re-queues", () =>
        Effect.gen(function* () {
          yield* Inbox.appendBatch([event("r1")])
          const [c1] = yield* Inbox.claim({ owner: "w", limit: 1, leaseMs: 1000 })
          if (c1 === undefined) return assert.fail("claim")
          yield* Inbox.retryLater(c1.lease, { error: "boom", nextAttemptAt: 10_000 })
          assert.strictEqual((yield* Inbox.claim({ owner: "w", limit: 1, leaseMs: 1000 })).length, 0)
          yield* TestClock.adjust(10_000)
          const [c2] = yield* Inbox.claim({ owner: "w", limit: 1, leaseMs: 1000 })
          if (c2 === undefined) return assert.fail("claim after retry delay")
          assert.strictEqual(Option.getOrNull(c2.event.lastError), "boom")
          yield* Inbox.deadLetter(c2.lease, { error: "gave up" })
          assert.deepStrictEqual(
            (yield* Inbox.listDead(10)).map((e) => e.eventId),
            ["r1"]
          )
          assert.strictEqual((yield* Inbox.claim({ owner: "w", limit: 1, leaseMs: 1000 })).length, 0)
          const replayed = yield* Inbox.replay("r1")
          assert.strictEqual(replayed.state, "pending")
          assert.strictEqual((yield* Inbox.listByState({ state: "dead", limit: 10 })).items.length, 0)
          assert.strictEqual((yield* Inbox.replay("r1").pipe(Effect.flip))._tag, "IllegalTransition")
          assert.strictEqual((yield* Inbox.claim({ owner: "w", limit: 1, leaseMs: 1000 })).length, 1)
        }).pipe(provideStore)
      )

      it.effect(
        "purgeEnded: only processed and dead events last changed before the cutoff, at most limit; pending ones stay",
        () =>
          Effect.gen(function* () {
            yield* Inbox.appendBatch([event("p-done"), event("p-dead"), event("p-retrying"), event("p-recent")])
            const claimed = yield* Inbox.claim({ owner: "w", limit: 10, leaseMs: 60_000 })
            const leaseOf = (id: string) => {
              const c = claimed.find((x) => x.event.eventId === id)
              return c === undefined ? Effect.dieMessage(`no claim for ${id}`) : Effect.succeed(c.lease)
            }
            // Ended (or, for the retrying one, last tried) at t = 100; the recent one ended at t = 1000.
            yield* TestClock.adjust(100)
            yield* Inbox.complete(yield* leaseOf("p-done"))
            yield* Inbox.deadLetter(yield* leaseOf("p-dead"), { error: "gave up" })
            yield* Inbox.retryLater(yield* leaseOf("p-retrying"), { error: "later", nextAttemptAt: 1_000_000 })
            yield* TestClock.adjust(900)
            yield* Inbox.complete(yield* leaseOf("p-recent"))

            const zero = yield* Inbox.purgeEnded({ before: 500, limit: 0 }).pipe(Effect.flip)
            assert.strictEqual(zero._tag, "InvalidInput")
            if (zero._tag === "InvalidInput") assert.strictEqual(zero.field, "limit")
            assert.strictEqual(
              (yield* Inbox.purgeEnded({ before: -1, limit: 10 }).pipe(Effect.flip))._tag,
              "InvalidInput"
            )
            assert.strictEqual(
              (yield* Inbox.purgeEnded({ before: 500, limit: 10_001 }).pipe(Effect.flip))._tag,
              "InvalidInput"
            )
            assert.strictEqual(
              (yield* Inbox.purgeEnded(fromJson('{"before":"500","limit":10}')).pipe(Effect.flip))._tag,
              "InvalidInput"
            )
            assert.strictEqual(yield* count("webhook_inbox"), 4, "bad input deletes nothing")

            assert.strictEqual(yield* Inbox.purgeEnded({ before: 100, limit: 10 }), 0, "the cutoff is exclusive")
            assert.strictEqual(yield* Inbox.purgeEnded({ before: 500, limit: 1 }), 1, "at most limit")
            assert.strictEqual(yield* Inbox.purgeEnded({ before: 500, limit: 10 }), 1)
            assert.strictEqual(yield* Inbox.purgeEnded({ before: 500, limit: 10 }), 0, "nothing left to purge")
            const left = yield* Effect.forEach(["p-done", "p-dead", "p-retrying", "p-recent"], (id) =>
              Effect.map(
                Inbox.get(id),
                Option.map((e) => e.state)
              )
            )
            assert.deepStrictEqual(left.map(Option.getOrNull), [null, null, "pending", "processed"])
            assert.strictEqual((yield* Inbox.replay("p-dead").pipe(Effect.flip))._tag, "NotFound")
            // The retrying event is still handed out when due.
            yield* TestClock.adjust(1_000_000)
            assert.deepStrictEqual(
              (yield* Inbox.claim({ owner: "w", limit: 10, leaseMs: 1000 })).map((c) => c.event.eventId),
              ["p-retrying"]
            )
          }).pipe(provideStore)
      )
    })

    describe("inbox listing", () => {
      const event = (eventId: string) => ({ eventId, source: "vendor", eventType: "order.paid", body: "{}" })

      it.effect("listByState: oldest first, keyset pages stable while items change state, since, bad cursor", () =>
        Effect.gen(function* () {
          // Received at 0, 0, 10, 10, 20 (ties broken by id).
          yield* Inbox.appendBatch([event("l-b"), event("l-a")])
          yield* TestClock.adjust(10)
          yield* Inbox.appendBatch([event("l-d"), event("l-c")])
          yield* TestClock.adjust(10)
          yield* Inbox.appendBatch([event("l-e")])
          const first = yield* Inbox.listByState({ state: "pending", limit: 2 })
          assert.deepStrictEqual(
            first.items.map((e) => e.eventId),
            ["l-a", "l-b"]
          )
          // An item of the next page changes state between pages; paging goes on where it was.
          const claimed = yield* Inbox.claim({ owner: "w", limit: 5, leaseMs: 1000 })
          const c = claimed.find((x) => x.event.eventId === "l-c")
          if (c === undefined) return assert.fail("claim")
          yield* Inbox.complete(c.lease)
          const second = yield* Inbox.listByState({
            state: "pending",
            limit: 2,
            cursor: Option.getOrThrow(first.nextCursor)
          })
          assert.deepStrictEqual(
            second.items.map((e) => e.eventId),
            ["l-d", "l-e"]
          )
          assert.isTrue(Option.isNone(second.nextCursor))
          assert.deepStrictEqual(
            (yield* Inbox.listByState({ state: "processed", limit: 10 })).items.map((e) => e.eventId),
            ["l-c"]
          )

          // Dead letters: `since` is when they went dead, not when they were received.
          const others = claimed.filter((x) => x.event.eventId !== "l-c")
          const [early, ...late] = others
          if (early === undefined) return assert.fail("claims")
          yield* Inbox.deadLetter(early.lease, { error: "x" })
          yield* TestClock.adjust(500)
          for (const x of late) yield* Inbox.deadLetter(x.lease, { error: "y" })
          const dead = yield* Inbox.listByState({ state: "dead", limit: 10 })
          assert.strictEqual(dead.items.length, 4)
          const recent = yield* Inbox.listByState({ state: "dead", limit: 10, since: 520 })
          assert.deepStrictEqual(
            recent.items.map((e) => e.eventId),
            late.map((x) => x.event.eventId).sort()
          )
          assert.strictEqual((yield* Inbox.listByState({ state: "dead", limit: 10, since: 10_000 })).items.length, 0)

          const bad = yield* Inbox.listByState({ state: "dead", limit: 10, cursor: "not-a-cursor" }).pipe(Effect.flip)
          assert.strictEqual(bad._tag, "InvalidInput")
          if (bad._tag === "InvalidInput") assert.strictEqual(bad.field, "cursor")
          const badState = yield* Inbox.listByState(fromJson('{"state":"lost","limit":10}')).pipe(Effect.flip)
          assert.strictEqual(badState._tag, "InvalidInput")
          if (badState._tag === "InvalidInput") assert.strictEqual(badState.field, "state")
          assert.strictEqual(
            (yield* Inbox.listByState({ state: "dead", limit: 501 }).pipe(Effect.flip))._tag,
            "InvalidInput"
          )
        }).pipe(provideStore)
      )
    })

    describe("subscribers", () => {
      it.effect("no read API returns the signing secret; a masked hint is shown", () =>
        Effect.gen(function* () {
          const created = yield* Subscribers.create({
            url: "https://hooks.example.com/in",
            signingSecret: secret,
            eventFilter: ["order.*"]
          })
          assert.strictEqual(created.secretHint, "whsec_…1234")
          const reads = [created, yield* Subscribers.get(created.subscriberId), ...(yield* Subscribers.list())]
          for (const s of reads) assert.notInclude(JSON.stringify(s) + String(s), "abcdefghijklmnop")
          const signing = yield* Subscribers.signingSecrets(created.subscriberId)
          assert.deepStrictEqual(signing.map(Redacted.value), [Redacted.value(secret)])
          assert.notInclude(String(signing), "abcdefghijklmnop")
          const hints = yield* Subscribers.secretHints([created.subscriberId])
          assert.notInclude(JSON.stringify(hints) + String(hints), "abcdefghijklmnop")
          assert.deepStrictEqual(
            hints.map((h) => h.secretHint),
            ["whsec_…1234"]
          )
          const disabled = yield* Subscribers.disable(created.subscriberId, "410 Gone")
          assert.isFalse(disabled.enabled)
          assert.strictEqual(Option.getOrNull(disabled.disabledReason), "410 Gone")
          assert.strictEqual((yield* Subscribers.list({ includeDisabled: false })).length, 0)
          assert.isTrue((yield* Subscribers.enable(created.subscriberId)).enabled)
          const bad = yield* Subscribers.create({ url: "ftp://x", signingSecret: secret, eventFilter: ["*"] }).pipe(
            Effect.flip
          )
          assert.strictEqual(bad._tag, "InvalidInput")
          // Caller text follows the one rule: a URL on one line, a reason without control characters (lines allowed).
          const refused = (e: { readonly _tag: string; readonly field?: string; readonly message?: string }) =>
            `${e._tag} ${e.field}: ${e.message}`
          const nul = yield* Subscribers.create({
            url: "https://hooks.example.com/in\u0000",
            signingSecret: secret,
            eventFilter: ["*"]
          }).pipe(Effect.flip)
          assert.strictEqual(refused(nul), "InvalidInput url: contains the control character U+0000 at index 28")
          const broken = yield* Subscribers.create({
            url: "https://hooks.example.com/\u2028in",
            signingSecret: secret,
            eventFilter: ["*"]
          }).pipe(Effect.flip)
          assert.strictEqual(
            refused(broken),
            "InvalidInput url: contains the line break U+2028 at index 26; it must be a single line"
          )
          const reason = yield* Subscribers.disable(created.subscriberId, "moved\u0085away").pipe(Effect.flip)
          assert.strictEqual(refused(reason), "InvalidInput reason: contains the control character U+0085 at index 5")
          assert.isTrue((yield* Subscribers.get(created.subscriberId)).enabled)
          const lines = yield* Subscribers.disable(created.subscriberId, "moved away\nsee ticket 12 ")
          assert.strictEqual(Option.getOrNull(lines.disabledReason), "moved away\nsee ticket 12")
          assert.strictEqual((yield* Subscribers.list()).length, 1)
          assert.strictEqual((yield* Subscribers.get("missing").pipe(Effect.flip))._tag, "NotFound")
          assert.strictEqual((yield* Subscribers.signingSecrets("missing").pipe(Effect.flip))._tag, "NotFound")
        }).pipe(provideStore)
      )

      it.effect("signing secrets are sealed at rest under the current key; only signingSecrets opens them", () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient
          const box = yield* SecretBox.SecretBox
          const created = yield* Subscribers.create({
            url: "https://sealed.example/h",
            signingSecret: secret,
            eventFilter: ["*"]
          })
          yield* Subscribers.rotateSecret(created.subscriberId, Redacted.make("whsec_rotated_secret_0000000000042"), {
            overlapMs: 60_000
          })
          yield* Subscribers.seed({
            url: "https://sealed-seed.example/h",
            signingSecret: Redacted.make("whsec_seeded_secret_00000000000007"),
            eventFilter: ["*"]
          })
          const rows = yield* sql<{
            secretId: string
            secret: string
            keyId: string | null
          }>`SELECT secret_id, secret, key_id FROM subscriber_secrets`
          assert.strictEqual(rows.length, 3)
          for (const row of rows) {
            for (const plain of ["abcdefghijklmnop", "rotated_secret", "seeded_secret"])
              assert.notInclude(row.secret, plain)
            assert.match(row.secret, /^sb1:[0-9a-f]{8}:[A-Za-z0-9_-]+$/)
            assert.strictEqual(row.keyId, box.currentKeyId)
          }
          // Two seals of one secret differ (a fresh nonce each).
          assert.notStrictEqual(yield* box.seal(secret, "x"), yield* box.seal(secret, "x"))
          // Both active (the overlap); created in the same TestClock millisecond, so compared without order.
          const opened = yield* Subscribers.signingSecrets(created.subscriberId)
          assert.deepStrictEqual(
            opened.map(Redacted.value).sort(),
            [Redacted.value(secret), "whsec_rotated_secret_0000000000042"].sort()
          )
        }).pipe(provideStore)
      )

      it.effect(
        "key rotation: a ring with the new key first opens old rows, resealSecrets moves them to it; a wrong key is a typed error",
        () =>
          Effect.gen(function* () {
            const sql = yield* SqlClient
            const oldKeys = freshKeyRing()
            const newKeys = freshKeyRing()
            const withKeys = (ring: SecretBox.SecretKeyRing) => Effect.provide(SecretBox.layer(ring))
            const sub = yield* Subscribers.create({
              url: "https://keyrot.example/h",
              signingSecret: secret,
              eventFilter: ["*"]
            }).pipe(withKeys(oldKeys))
            const rotatedRing: SecretBox.SecretKeyRing = [newKeys[0], oldKeys[0]]
            // The new ring reads the old rows before anything is resealed …
            assert.deepStrictEqual(
              (yield* Subscribers.signingSecrets(sub.subscriberId).pipe(withKeys(rotatedRing))).map(Redacted.value),
              [Redacted.value(secret)]
            )
            // … and a key that never sealed anything opens nothing: a typed error naming the row and key, not garbage.
            const wrong = yield* Subscribers.signingSecrets(sub.subscriberId).pipe(
              withKeys(freshKeyRing()),
              Effect.flip
            )
            assert.strictEqual(wrong._tag, "SealedSecretUnreadable")
            if (wrong._tag === "SealedSecretUnreadable") {
              assert.strictEqual(wrong.reason, "unknown-key")
              assert.strictEqual(wrong.keyId, oldKeys[0].id)
              assert.include(wrong.message, oldKeys[0].id)
            }
            // A ring that lacks a key some row needs refuses to reseal, and changes nothing.
            const refused = yield* Subscribers.resealSecrets.pipe(withKeys(newKeys), Effect.flip)
            assert.strictEqual(refused._tag, "SealedSecretUnreadable")
            const before = yield* sql<{ secret: string; keyId: string }>`SELECT secret, key_id FROM subscriber_secrets`
            assert.deepStrictEqual(
              before.map((r) => r.keyId),
              [oldKeys[0].id]
            )

            assert.deepStrictEqual(yield* Subscribers.resealSecrets.pipe(withKeys(rotatedRing)), {
              sealed: 0,
              resealed: 1
            })
            const after = yield* sql<{ secret: string; keyId: string }>`SELECT secret, key_id FROM subscriber_secrets`
            assert.deepStrictEqual(
              after.map((r) => r.keyId),
              [newKeys[0].id]
            )
            assert.notStrictEqual(after[0]?.secret, before[0]?.secret)
            // Now the old key can go.
            assert.deepStrictEqual(
              (yield* Subscribers.signingSecrets(sub.subscriberId).pipe(withKeys(newKeys))).map(Redacted.value),
              [Redacted.value(secret)]
            )

            // A stored value altered, or copied onto another row, does not open.
            const sealed = after[0]?.secret ?? ""
            const flipped = `${sealed.slice(0, -2)}${sealed.endsWith("A") ? "B" : "A"}${sealed.slice(-1)}`
            yield* sql`UPDATE subscriber_secrets SET secret = ${flipped}`
            const altered = yield* Subscribers.signingSecrets(sub.subscriberId).pipe(withKeys(newKeys), Effect.flip)
            assert.strictEqual(altered._tag === "SealedSecretUnreadable" && altered.reason, "authentication-failed")
            const other = yield* Subscribers.create({
              url: "https://keyrot-2.example/h",
              signingSecret: secret,
              eventFilter: ["*"]
            }).pipe(withKeys(newKeys))
            yield* sql`UPDATE subscriber_secrets SET secret = ${sealed} WHERE subscriber_id = ${other.subscriberId}`
            const copied = yield* Subscribers.signingSecrets(other.subscriberId).pipe(withKeys(newKeys), Effect.flip)
            assert.strictEqual(copied._tag === "SealedSecretUnreadable" && copied.reason, "authentication-failed")
            assert.notInclude(String(copied) + copied.message, "abcdefghijklmnop")
          }).pipe(provideStore)
      )

      it.effect("seeding from configuration: one subscriber per URL however many replicas seed at once", () =>
        Effect.gen(function* () {
          const entry = { url: "https://seeded.example/h", signingSecret: secret, eventFilter: ["*"] }
          const results = yield* Effect.all(
            [Subscribers.seed(entry), Subscribers.seed(entry), Subscribers.seed(entry)],
            { concurrency: 3 }
          )
          assert.deepStrictEqual(results.map((r) => r.created).filter(Boolean).length, 1)
          assert.strictEqual(new Set(results.map((r) => r.subscriber.subscriberId)).size, 1)
          const seeded = (yield* Subscribers.list()).filter((s) => s.url === entry.url)
          assert.strictEqual(seeded.length, 1)
          assert.strictEqual((yield* Subscribers.signingSecrets(seeded[0]?.subscriberId ?? "")).length, 1)
          // A subscriber made through the API for the same URL is a separate matter (no seed key).
          yield* Subscribers.create(entry)
          assert.strictEqual((yield* Subscribers.list()).filter((s) => s.url === entry.url).length, 2)
        }).pipe(provideStore)
      )

      it.effect(
        "rotation: old and new secrets both active during the overlap, newest first; the old one dropped after it",
        () =>
          Effect.gen(function* () {
            const day = 24 * 3600 * 1000
            const sub = yield* Subscribers.create({
              url: "https://rotate.example/h",
              signingSecret: secret,
              eventFilter: ["*"]
            })
            yield* TestClock.adjust(1000)
            const second = Redacted.make("whsec_second_secret_00000000000002")
            const rotated = yield* Subscribers.rotateSecret(sub.subscriberId, second, { overlapMs: day })
            assert.strictEqual(rotated.secretHint, "whsec_…0002")
            assert.deepStrictEqual((yield* Subscribers.signingSecrets(sub.subscriberId)).map(Redacted.value), [
              Redacted.value(second),
              Redacted.value(secret)
            ])
            const hints = yield* Subscribers.secretHints([sub.subscriberId])
            assert.deepStrictEqual(
              hints.map((h) => [h.secretHint, Option.getOrNull(h.expiresAt)]),
              [
                ["whsec_…0002", null],
                ["whsec_…1234", 1000 + day]
              ]
            )
            yield* TestClock.adjust(day - 1)
            assert.strictEqual((yield* Subscribers.signingSecrets(sub.subscriberId)).length, 2, "still in the overlap")
            yield* TestClock.adjust(1)
            assert.deepStrictEqual((yield* Subscribers.signingSecrets(sub.subscriberId)).map(Redacted.value), [
              Redacted.value(second)
            ])
            assert.strictEqual(yield* count("subscriber_secrets"), 2, "expired but not yet purged")
            assert.strictEqual(yield* Subscribers.purgeExpiredSecrets, 1)
            assert.strictEqual(yield* count("subscriber_secrets"), 1)

            // A second rotation within an overlap never extends an older secret's life.
            const third = Redacted.make("whsec_third_secret_000000000000003")
            yield* Subscribers.rotateSecret(sub.subscriberId, third, { overlapMs: day })
            yield* TestClock.adjust(1000)
            yield* Subscribers.rotateSecret(sub.subscriberId, Redacted.make("whsec_fourth_secret_00000000000004"), {
              overlapMs: 2 * day
            })
            const expiries = (yield* Subscribers.secretHints([sub.subscriberId])).map((h) => [
              h.secretHint,
              Option.getOrNull(h.expiresAt)
            ])
            const now = 1000 + day + 1000
            assert.deepStrictEqual(expiries, [
              ["whsec_…0004", null],
              ["whsec_…0003", now + 2 * day],
              ["whsec_…0002", now - 1000 + day]
            ])
            // No overlap: every older secret is revoked at once (a leaked secret).
            yield* Subscribers.rotateSecret(sub.subscriberId, Redacted.make("whsec_fifth_secret_000000000000005"), {
              overlapMs: 0
            })
            assert.deepStrictEqual((yield* Subscribers.signingSecrets(sub.subscriberId)).map(Redacted.value), [
              "whsec_fifth_secret_000000000000005"
            ])
            assert.strictEqual(yield* count("subscriber_secrets"), 1)

            for (let i = 0; i < 4; i++) {
              yield* Subscribers.rotateSecret(sub.subscriberId, Redacted.make(`whsec_many_secret_00000000000000${i}`), {
                overlapMs: day
              })
            }
            const tooMany = yield* Subscribers.rotateSecret(
              sub.subscriberId,
              Redacted.make("whsec_one_too_many_0000000000000"),
              { overlapMs: day }
            ).pipe(Effect.flip)
            assert.strictEqual(tooMany._tag, "InvalidInput")
            assert.strictEqual(
              (yield* Subscribers.signingSecrets(sub.subscriberId)).length,
              5,
              "a refused rotation changes nothing"
            )
            const short = yield* Subscribers.rotateSecret(sub.subscriberId, Redacted.make("short"), {
              overlapMs: day
            }).pipe(Effect.flip)
            assert.strictEqual(short._tag, "InvalidInput")
            const negative = yield* Subscribers.rotateSecret(sub.subscriberId, second, { overlapMs: -1 }).pipe(
              Effect.flip
            )
            assert.strictEqual(negative._tag, "InvalidInput")
            assert.strictEqual(
              (yield* Subscribers.rotateSecret("missing", second, { overlapMs: 0 }).pipe(Effect.flip))._tag,
              "NotFound"
            )
          }).pipe(provideStore)
      )

      it.effect(
        "failing streak: started once, warnings given once per level, a success or enable ends it, disable only while still failing",
        () =>
          Effect.gen(function* () {
            const sub = yield* Subscribers.create({
              url: "https://failing.example/h",
              signingSecret: secret,
              eventFilter: ["*"]
            })
            const id = sub.subscriberId
            yield* Subscribers.recordSuccess(id)
            assert.isTrue(Option.isNone((yield* Subscribers.get(id)).failingSince))
            yield* TestClock.adjust(100)
            const first = yield* Subscribers.recordFailure(id)
            assert.deepStrictEqual(
              [Option.getOrNull(first.failingSince), Option.getOrNull(first.lastFailureAt)],
              [100, 100]
            )
            yield* TestClock.adjust(50)
            const again = yield* Subscribers.recordFailure(id)
            assert.deepStrictEqual(
              [Option.getOrNull(again.failingSince), Option.getOrNull(again.lastFailureAt)],
              [100, 150]
            )
            assert.deepStrictEqual(
              (yield* Subscribers.listFailing).map((s) => s.subscriberId),
              [id]
            )

            assert.isTrue(yield* Subscribers.markFailureWarning({ subscriberId: id, failingSince: 100, level: 50 }))
            assert.isFalse(
              yield* Subscribers.markFailureWarning({ subscriberId: id, failingSince: 100, level: 50 }),
              "given once"
            )
            assert.isFalse(
              yield* Subscribers.markFailureWarning({ subscriberId: id, failingSince: 99, level: 90 }),
              "another streak"
            )
            assert.strictEqual((yield* Subscribers.get(id)).failureWarning, 50)

            yield* Subscribers.recordSuccess(id)
            const healthy = yield* Subscribers.get(id)
            assert.isTrue(Option.isNone(healthy.failingSince))
            assert.strictEqual(healthy.failureWarning, 0)
            assert.strictEqual((yield* Subscribers.listFailing).length, 0)
            assert.isFalse(
              yield* Subscribers.disableIfStillFailing({ subscriberId: id, failingSince: 100, reason: "failing" }),
              "recovered meanwhile"
            )
            assert.isTrue((yield* Subscribers.get(id)).enabled)

            yield* TestClock.adjust(50)
            yield* Subscribers.recordFailure(id)
            assert.isTrue(
              yield* Subscribers.disableIfStillFailing({
                subscriberId: id,
                failingSince: 200,
                reason: "failing for 5 days"
              })
            )
            const disabled = yield* Subscribers.get(id)
            assert.isFalse(disabled.enabled)
            assert.strictEqual(Option.getOrNull(disabled.disabledReason), "failing for 5 days")
            assert.isFalse(
              yield* Subscribers.disableIfStillFailing({ subscriberId: id, failingSince: 200, reason: "again" }),
              "already disabled"
            )
            assert.strictEqual((yield* Subscribers.listFailing).length, 0, "disabled ones are not watched")
            const enabled = yield* Subscribers.enable(id)
            assert.isTrue(enabled.enabled)
            assert.isTrue(Option.isNone(enabled.failingSince), "a fresh start")
            assert.strictEqual((yield* Subscribers.recordFailure("missing").pipe(Effect.flip))._tag, "NotFound")
          }).pipe(provideStore)
      )
    })

    describe("outbound events and deliveries", () => {
      it.effect(
        "per-order sequence; one delivery per matching subscriber (held dead for a disabled one); retry, dead-letter, replay",
        () =>
          Effect.gen(function* () {
            const all = yield* Subscribers.create({
              url: "https://a.example/h",
              signingSecret: secret,
              eventFilter: ["*"]
            })
            const orders = yield* Subscribers.create({
              url: "https://b.example/h",
              signingSecret: secret,
              eventFilter: ["order.completed"]
            })
            const off = yield* Subscribers.create({
              url: "https://c.example/h",
              signingSecret: secret,
              eventFilter: ["*"]
            })
            yield* Subscribers.disable(off.subscriberId, "paused")
            const e1 = yield* Outbox.append({ orderNumber: "4001", eventType: "order.registered", payload: { n: 1 } })
            const e2 = yield* Outbox.append({ orderNumber: "4001", eventType: "order.completed", payload: { n: 2 } })
            const other = yield* Outbox.append({ orderNumber: "4002", eventType: "order.completed", payload: { n: 3 } })
            assert.deepStrictEqual([e1.event.sequence, e2.event.sequence, other.event.sequence], [1, 2, 1])
            const pending = (ds: ReadonlyArray<Delivery>) => ds.filter((d) => d.state === "pending")
            assert.deepStrictEqual(
              pending(e1.deliveries).map((d) => d.subscriberId),
              [all.subscriberId]
            )
            assert.strictEqual(pending(e2.deliveries).length, 2)
            // Never dropped for a disabled subscriber: dead-lettered with the reason, replayable once enabled.
            const held = e1.deliveries.filter((d) => d.subscriberId === off.subscriberId)
            assert.deepStrictEqual(
              held.map((d) => [d.state, Option.getOrNull(d.lastError)]),
              [["dead", "subscriber disabled: paused; enable it, then replay"]]
            )
            assert.strictEqual(e2.deliveries.length, 3)
            assert.deepStrictEqual(
              (yield* Outbox.eventsForOrder("4001")).map((e) => e.payload),
              [{ n: 1 }, { n: 2 }]
            )

            const forB = yield* Outbox.claimDue({
              owner: "d1",
              limit: 10,
              leaseMs: 1000,
              subscriberId: orders.subscriberId
            })
            assert.strictEqual(forB.length, 2)
            assert.isTrue(
              forB.every(
                (c) => c.delivery.subscriberId === orders.subscriberId && c.event.eventType === "order.completed"
              )
            )
            const [b1, b2] = forB
            if (b1 === undefined || b2 === undefined) return assert.fail("claims")
            const delivered = yield* Outbox.markDelivered(b1.lease, { statusCode: 204 })
            assert.strictEqual(delivered.state, "delivered")
            const retried = yield* Outbox.scheduleRetry(b2.lease, {
              statusCode: 503,
              error: "unavailable",
              nextAttemptAt: 5000
            })
            assert.strictEqual(Option.getOrNull(retried.lastStatusCode), 503)
            assert.strictEqual(
              (yield* Outbox.markDelivered(b2.lease, { statusCode: 200 }).pipe(Effect.flip))._tag,
              "LeaseLost"
            )

            const forA = yield* Outbox.claimDue({ owner: "d2", limit: 10, leaseMs: 1000 })
            assert.strictEqual(forA.length, 3)
            const first = forA[0]
            if (first === undefined) return assert.fail("claims")
            const dead = yield* Outbox.deadLetter(first.lease, { statusCode: 410, error: "gone" })
            assert.strictEqual(dead.state, "dead")
            const page = yield* Outbox.listDeadLettered({ limit: 10, subscriberId: all.subscriberId })
            assert.deepStrictEqual(
              page.items.map((d) => d.deliveryId),
              [dead.deliveryId]
            )
            assert.isTrue(Option.isNone(page.nextCursor))
            const replayed = yield* Outbox.replay(dead.deliveryId)
            assert.strictEqual(replayed.state, "pending")
            assert.strictEqual(replayed.attempts, 0)
            assert.strictEqual((yield* Outbox.replay(dead.deliveryId).pipe(Effect.flip))._tag, "IllegalTransition")
            const bad = yield* Outbox.append({
              orderNumber: "4001",
              eventType: "x",
              payload: { blob: "y".repeat(300_000) }
            }).pipe(Effect.flip)
            assert.strictEqual(bad._tag, "InvalidInput")
            assert.strictEqual(yield* count("outbound_events"), 3)
            yield* Subscribers.enable(off.subscriberId)
            const heldOne = held[0]
            if (heldOne === undefined) return assert.fail("held delivery")
            assert.strictEqual((yield* Outbox.replay(heldOne.deliveryId)).state, "pending")
            const forOff = yield* Outbox.claimDue({
              owner: "d3",
              limit: 10,
              leaseMs: 1000,
              subscriberId: off.subscriberId
            })
            assert.deepStrictEqual(
              forOff.map((c) => c.delivery.deliveryId),
              [heldOne.deliveryId]
            )
          }).pipe(provideStore)
      )

      it.effect("listDeliveries: by state and subscriber, oldest first, keyset pages, since", () =>
        Effect.gen(function* () {
          const a = yield* Subscribers.create({ url: "https://a.example/h", signingSecret: secret, eventFilter: ["*"] })
          const b = yield* Subscribers.create({ url: "https://b.example/h", signingSecret: secret, eventFilter: ["*"] })
          const created: Array<string> = []
          for (let i = 0; i < 5; i++) {
            const { deliveries } = yield* Outbox.append({
              orderNumber: `47${i}`,
              eventType: "order.completed",
              payload: { i }
            })
            created.push(...deliveries.filter((d) => d.subscriberId === a.subscriberId).map((d) => d.deliveryId))
            // Two appends in the same millisecond still page in a stable order (tie broken by id).
            if (i % 2 === 1) yield* TestClock.adjust(10)
          }
          const pages: Array<ReadonlyArray<string>> = []
          let cursor: string | undefined
          do {
            const page = yield* Outbox.listDeliveries({
              state: "pending",
              subscriberId: a.subscriberId,
              limit: 2,
              ...(cursor === undefined ? {} : { cursor })
            })
            pages.push(page.items.map((d) => d.deliveryId))
            assert.isTrue(page.items.every((d) => d.subscriberId === a.subscriberId && d.state === "pending"))
            cursor = Option.getOrUndefined(page.nextCursor)
          } while (cursor !== undefined)
          assert.deepStrictEqual(
            pages.map((p) => p.length),
            [2, 2, 1]
          )
          const seen = pages.flat()
          assert.strictEqual(new Set(seen).size, 5)
          assert.sameMembers(seen, created)
          const both = yield* Outbox.listDeliveries({ state: "pending", limit: 100 })
          assert.strictEqual(both.items.length, 10)
          assert.isTrue(Option.isNone(both.nextCursor))
          const times = both.items.map((d) => d.createdAt)
          assert.deepStrictEqual(
            times,
            [...times].sort((x, y) => x - y),
            "oldest first"
          )

          // Dead-letter two of b's, at different times: `since` picks by when they went dead.
          yield* TestClock.adjust(1000)
          const claimed = yield* Outbox.claimDue({
            owner: "w",
            limit: 2,
            leaseMs: 60_000,
            subscriberId: b.subscriberId
          })
          const [c1, c2] = claimed
          if (c1 === undefined || c2 === undefined) return assert.fail("claims")
          yield* Outbox.deadLetter(c1.lease, { error: "gave up" })
          yield* TestClock.adjust(1000)
          const cutoff = yield* TestClock.currentTimeMillis
          yield* Outbox.deadLetter(c2.lease, { error: "gave up" })
          const allDead = yield* Outbox.listDeliveries({ state: "dead", limit: 10 })
          const byKey = [c1.delivery, c2.delivery].sort(
            (x, y) => x.createdAt - y.createdAt || (x.deliveryId < y.deliveryId ? -1 : 1)
          )
          assert.deepStrictEqual(
            allDead.items.map((d) => d.deliveryId),
            byKey.map((d) => d.deliveryId)
          )
          const sinceCutoff = yield* Outbox.listDeliveries({ state: "dead", limit: 10, since: cutoff })
          assert.deepStrictEqual(
            sinceCutoff.items.map((d) => d.deliveryId),
            [c2.delivery.deliveryId]
          )
          assert.strictEqual(
            (yield* Outbox.listDeliveries({ state: "dead", limit: 10, subscriberId: a.subscriberId })).items.length,
            0
          )

          const badCursor = yield* Outbox.listDeliveries({ state: "dead", limit: 10, cursor: "nope" }).pipe(Effect.flip)
          assert.strictEqual(badCursor._tag, "InvalidInput")
          if (badCursor._tag === "InvalidInput") assert.strictEqual(badCursor.field, "cursor")
          const badState = yield* Outbox.listDeliveries(fromJson('{"state":"gone","limit":10}')).pipe(Effect.flip)
          assert.strictEqual(badState._tag, "InvalidInput")
          assert.strictEqual(
            (yield* Outbox.listDeliveries({ state: "dead", limit: 0 }).pipe(Effect.flip))._tag,
            "InvalidInput"
          )
        }).pipe(provideStore)
      )

      it.effect(
        "purgeEnded: ended deliveries before the cutoff, then events nothing refers to; pending ones and their events stay; sequences go on",
        () =>
          Effect.gen(function* () {
            // Two events from before any subscriber existed: no delivery ever referred to them.
            yield* Outbox.append({ orderNumber: "8000", eventType: "order.completed", payload: { n: 0 } })
            yield* Outbox.append({ orderNumber: "8000", eventType: "order.completed", payload: { n: 1 } })
            const a = yield* Subscribers.create({
              url: "https://a.example/h",
              signingSecret: secret,
              eventFilter: ["*"]
            })
            const b = yield* Subscribers.create({
              url: "https://b.example/h",
              signingSecret: secret,
              eventFilter: ["*"]
            })
            const off = yield* Subscribers.create({
              url: "https://c.example/h",
              signingSecret: secret,
              eventFilter: ["*"]
            })
            yield* Subscribers.disable(off.subscriberId, "paused")
            // t = 0: held dead for the disabled subscriber at once.
            const e1 = yield* Outbox.append({ orderNumber: "8001", eventType: "order.registered", payload: { n: 1 } })
            const e2 = yield* Outbox.append({ orderNumber: "8001", eventType: "order.completed", payload: { n: 2 } })
            // t = 100: e1 delivered to a and b; e2 delivered to a, still retrying for b.
            yield* TestClock.adjust(100)
            const claimed = yield* Outbox.claimDue({ owner: "w", limit: 10, leaseMs: 60_000 })
            assert.strictEqual(claimed.length, 4)
            for (const c of claimed) {
              if (c.event.eventId === e2.event.eventId && c.delivery.subscriberId === b.subscriberId) {
                yield* Outbox.scheduleRetry(c.lease, {
                  statusCode: 503,
                  error: "unavailable",
                  nextAttemptAt: 1_000_000
                })
              } else {
                yield* Outbox.markDelivered(c.lease, { statusCode: 204 })
              }
            }
            // t = 1000: e3 delivered to a, pending for b, held for the disabled one: all recent.
            yield* TestClock.adjust(900)
            const e3 = yield* Outbox.append({ orderNumber: "8002", eventType: "order.completed", payload: { n: 3 } })
            const [forA] = yield* Outbox.claimDue({
              owner: "w",
              limit: 10,
              leaseMs: 60_000,
              subscriberId: a.subscriberId
            })
            if (forA === undefined) return assert.fail("claim")
            yield* Outbox.markDelivered(forA.lease, { statusCode: 200 })

            const zero = yield* Outbox.purgeEnded({ before: 500, limit: 0 }).pipe(Effect.flip)
            assert.strictEqual(zero._tag, "InvalidInput")
            if (zero._tag === "InvalidInput") assert.strictEqual(zero.field, "limit")
            assert.strictEqual(
              (yield* Outbox.purgeEnded({ before: -1, limit: 10 }).pipe(Effect.flip))._tag,
              "InvalidInput"
            )
            assert.deepStrictEqual(
              [yield* count("deliveries"), yield* count("outbound_events")],
              [9, 5],
              "bad input deletes nothing"
            )

            assert.deepStrictEqual(
              yield* Outbox.purgeEnded({ before: 100, limit: 1 }),
              { deliveries: 1, events: 1 },
              "at most limit of each"
            )
            assert.deepStrictEqual(
              yield* Outbox.purgeEnded({ before: 100, limit: 100 }),
              { deliveries: 1, events: 1 },
              "the cutoff is exclusive"
            )
            assert.deepStrictEqual(
              yield* Outbox.purgeEnded({ before: 500, limit: 1 }),
              { deliveries: 1, events: 0 },
              "e1 still has a delivery"
            )
            assert.deepStrictEqual(yield* Outbox.purgeEnded({ before: 500, limit: 100 }), { deliveries: 2, events: 1 })
            assert.deepStrictEqual(
              yield* Outbox.purgeEnded({ before: 500, limit: 100 }),
              { deliveries: 0, events: 0 },
              "nothing left to purge"
            )

            const names = new Map([
              [e2.event.eventId, "e2"],
              [e3.event.eventId, "e3"],
              [a.subscriberId, "a"],
              [b.subscriberId, "b"],
              [off.subscriberId, "off"]
            ])
            const states: ReadonlyArray<DeliveryState> = ["pending", "delivered", "dead"]
            const left = yield* Effect.forEach(states, (state) => Outbox.listDeliveries({ state, limit: 100 }))
            const described = left.flatMap((page) =>
              page.items.map((d) => `${names.get(d.eventId)}:${names.get(d.subscriberId)}:${d.state}`)
            )
            assert.sameMembers(described, ["e2:b:pending", "e3:a:delivered", "e3:b:pending", "e3:off:dead"])
            assert.deepStrictEqual((yield* Outbox.eventsForOrder("8000")).length, 0)
            assert.deepStrictEqual(
              (yield* Outbox.eventsForOrder("8001")).map((e) => e.eventId),
              [e2.event.eventId],
              "e2 still has a pending delivery"
            )
            const heldOne = e1.deliveries.find((d) => d.subscriberId === off.subscriberId)
            if (heldOne === undefined) return assert.fail("held delivery")
            assert.strictEqual((yield* Outbox.replay(heldOne.deliveryId).pipe(Effect.flip))._tag, "NotFound")

            // Per-order sequences are kept: numbers go on from where they were.
            const next = yield* Outbox.append({ orderNumber: "8001", eventType: "order.refunded", payload: {} })
            assert.strictEqual(next.event.sequence, 3)
            assert.strictEqual(
              (yield* Outbox.append({ orderNumber: "8000", eventType: "order.refunded", payload: {} })).event.sequence,
              3
            )
            // The old pending delivery still goes out, with its event.
            yield* TestClock.adjust(1_000_000)
            const forB = yield* Outbox.claimDue({
              owner: "w",
              limit: 10,
              leaseMs: 60_000,
              subscriberId: b.subscriberId
            })
            assert.includeMembers(
              forB.map((c) => c.event.eventId),
              [e2.event.eventId, e3.event.eventId]
            )
          }).pipe(provideStore)
      )
    })

    describe("unit of work", () => {
      it.effect("state change + outbound event commit together, or roll back together", () =>
        Effect.gen(function* () {
          const store = yield* Store
          yield* Subscribers.create({ url: "https://a.example/h", signingSecret: secret, eventFilter: ["*"] })
          yield* OrderLines.create(line("5001", "A"))
          const failed = yield* store
            .transaction(
              Effect.gen(function* () {
                yield* OrderLines.transition({
                  orderNumber: "5001",
                  orderLineId: "A",
                  expectedVersion: 1,
                  to: "registering"
                })
                yield* Outbox.append({ orderNumber: "5001", eventType: "order.registering", payload: {} })
                return yield* Effect.fail("remote call failed" as const)
              })
            )
            .pipe(Effect.exit)
          assert.isTrue(Exit.isFailure(failed))
          assert.strictEqual((yield* OrderLines.get({ orderNumber: "5001", orderLineId: "A" })).state, "paid")
          assert.strictEqual(yield* count("outbound_events"), 0)
          assert.strictEqual(yield* count("deliveries"), 0)
          yield* store.transaction(
            Effect.gen(function* () {
              yield* OrderLines.transition({
                orderNumber: "5001",
                orderLineId: "A",
                expectedVersion: 1,
                to: "registering"
              })
              yield* Outbox.append({ orderNumber: "5001", eventType: "order.registering", payload: {} })
            })
          )
          assert.strictEqual((yield* OrderLines.get({ orderNumber: "5001", orderLineId: "A" })).state, "registering")
          assert.strictEqual(yield* count("deliveries"), 1)
        }).pipe(provideStore)
      )
    })

    describe("reconcile runs", () => {
      it.effect("records a run with drift records, finished once", () =>
        Effect.gen(function* () {
          const run = yield* ReconcileRuns.start
          assert.strictEqual(run.status, "running")
          yield* ReconcileRuns.recordDrift({
            runId: run.runId,
            orderNumber: "6001",
            orderLineId: "A",
            expected: "registered",
            observed: { remote: "completed" },
            action: "transition",
            result: "completed"
          })
          const missingRun = yield* ReconcileRuns.recordDrift({
            runId: "nope",
            orderNumber: "6001",
            expected: 1,
            observed: 2,
            action: "none",
            result: "skipped"
          }).pipe(Effect.flip)
          assert.strictEqual(missingRun._tag, "NotFound")
          yield* TestClock.adjust(250)
          const finished = yield* ReconcileRuns.finish({
            runId: run.runId,
            status: "completed",
            examined: 3,
            drifted: 1,
            repaired: 1,
            failed: 0
          })
          assert.deepStrictEqual(Option.getOrNull(finished.endedAt), 250)
          assert.strictEqual(finished.examined, 3)
          const twice = yield* ReconcileRuns.finish({
            runId: run.runId,
            status: "failed",
            examined: 0,
            drifted: 0,
            repaired: 0,
            failed: 0
          }).pipe(Effect.flip)
          assert.strictEqual(twice._tag, "IllegalTransition")
          const drifts = yield* ReconcileRuns.driftsOf(run.runId)
          assert.deepStrictEqual(
            drifts.map((d) => [d.expected, d.observed]),
            [["registered", { remote: "completed" }]]
          )
          assert.deepStrictEqual(
            Option.map(yield* ReconcileRuns.latest, (r) => r.runId),
            Option.some(run.runId)
          )
        }).pipe(provideStore)
      )

      it.effect(
        "audit candidates: orders whose lines all ended within the window, least recently audited first, bounded",
        () =>
          Effect.gen(function* () {
            const walk = (
              orderNumber: string,
              orderLineId: string,
              states: ReadonlyArray<"registering" | "registered" | "completed" | "failed">
            ) =>
              Effect.gen(function* () {
                let { line: current } = yield* OrderLines.create(line(orderNumber, orderLineId))
                for (const to of states) {
                  current = yield* OrderLines.transition({
                    orderNumber,
                    orderLineId,
                    expectedVersion: current.version,
                    to
                  })
                }
              })
            yield* TestClock.adjust(10_000)
            yield* walk("7001", "A", ["registering", "registered", "completed"]) // ended at 10 s: before the window
            yield* TestClock.adjust(10_000)
            yield* walk("7002", "A", ["registering", "registered", "completed"])
            yield* walk("7002", "B", ["failed"])
            yield* walk("7003", "A", ["registering", "registered", "completed"])
            yield* walk("7003", "B", ["registering"]) // still active: not an audit candidate
            yield* walk("7004", "A", ["failed"])
            yield* walk("7005", "A", []) // paid
            const since = 15_000
            assert.deepStrictEqual(yield* OrderLines.listAuditCandidates({ endedSince: since, limit: 10 }), [
              "7002",
              "7004"
            ])
            assert.deepStrictEqual(yield* OrderLines.listAuditCandidates({ endedSince: 0, limit: 10 }), [
              "7001",
              "7002",
              "7004"
            ])
            yield* TestClock.adjust(1000)
            yield* OrderLines.markAudited("7002")
            assert.deepStrictEqual(yield* OrderLines.listAuditCandidates({ endedSince: since, limit: 1 }), ["7004"])
            yield* TestClock.adjust(1000)
            yield* OrderLines.markAudited("7004")
            assert.deepStrictEqual(yield* OrderLines.listAuditCandidates({ endedSince: since, limit: 10 }), [
              "7002",
              "7004"
            ])
            const bad = yield* OrderLines.listAuditCandidates({ endedSince: since, limit: 0 }).pipe(Effect.flip)
            assert.strictEqual(bad._tag, "InvalidInput")
            const audit = yield* ReconcileRuns.startKind("audit")
            assert.strictEqual(audit.kind, "audit")
            yield* ReconcileRuns.finish({
              runId: audit.runId,
              status: "completed",
              examined: 2,
              drifted: 0,
              repaired: 0,
              failed: 0
            })
            assert.deepStrictEqual(
              Option.map(yield* ReconcileRuns.latestWithWork("audit"), (r) => r.runId),
              Option.some(audit.runId)
            )
            assert.isTrue(Option.isNone(yield* ReconcileRuns.latestWithWork()))
            assert.isTrue(Option.isNone(yield* ReconcileRuns.latest))
          }).pipe(provideStore)
      )

      it.effect(
        "purgeEnded: runs that started and ended before the cutoff go with their drifts, oldest first, at most limit; later and running ones stay",
        () =>
          Effect.gen(function* () {
            const finished = (examined: number) =>
              Effect.gen(function* () {
                const run = yield* ReconcileRuns.start
                yield* ReconcileRuns.recordDrift({
                  runId: run.runId,
                  orderNumber: `90${examined}`,
                  expected: "registered",
                  observed: "completed",
                  action: "transition",
                  result: "completed"
                })
                yield* TestClock.adjust(10)
                return yield* ReconcileRuns.finish({
                  runId: run.runId,
                  status: "completed",
                  examined,
                  drifted: 1,
                  repaired: 1,
                  failed: 0
                })
              })
            const oldest = yield* finished(1) // 0 → 10
            yield* finished(2) // 10 → 20
            const abandoned = yield* ReconcileRuns.start // 20, never finished: its process died
            yield* TestClock.adjust(80)
            const straddling = yield* finished(3) // 100 → 110
            yield* TestClock.adjust(890)
            const recent = yield* finished(4) // 1000 → 1010
            const running = yield* ReconcileRuns.start // 1010

            assert.strictEqual(
              (yield* ReconcileRuns.purgeEnded({ before: 500, limit: 0 }).pipe(Effect.flip))._tag,
              "InvalidInput"
            )
            assert.strictEqual(
              (yield* ReconcileRuns.purgeEnded(fromJson('{"before":-1,"limit":10}')).pipe(Effect.flip))._tag,
              "InvalidInput"
            )
            assert.strictEqual(yield* count("reconcile_runs"), 6, "bad input deletes nothing")

            assert.deepStrictEqual(yield* ReconcileRuns.purgeEnded({ before: 10, limit: 10 }), { runs: 0, drifts: 0 })
            assert.deepStrictEqual(
              yield* ReconcileRuns.purgeEnded({ before: 105, limit: 1 }),
              { runs: 1, drifts: 1 },
              "at most limit, oldest first"
            )
            assert.strictEqual((yield* ReconcileRuns.get(oldest.runId).pipe(Effect.flip))._tag, "NotFound")
            assert.deepStrictEqual(yield* ReconcileRuns.driftsOf(oldest.runId), [])
            assert.deepStrictEqual(yield* ReconcileRuns.purgeEnded({ before: 105, limit: 10 }), { runs: 2, drifts: 1 })
            assert.deepStrictEqual(yield* ReconcileRuns.purgeEnded({ before: 105, limit: 10 }), { runs: 0, drifts: 0 })
            assert.deepStrictEqual(
              (yield* ReconcileRuns.listRuns(10)).map((r) => r.runId),
              [running.runId, recent.runId, straddling.runId],
              "the run that ended after the cutoff, the recent and the running one stay"
            )
            assert.strictEqual((yield* ReconcileRuns.get(abandoned.runId).pipe(Effect.flip))._tag, "NotFound")
            assert.strictEqual((yield* ReconcileRuns.driftsOf(straddling.runId)).length, 1)
            assert.strictEqual(yield* count("reconcile_drifts"), 2)
            // When the schedule last ran is kept apart from the runs.
            assert.deepStrictEqual(yield* ReconcileRuns.lastStartedAt("pass"), Option.some(running.startedAt))
          }).pipe(provideStore)
      )

      it.effect("an empty run is discarded, not stored; the report's latest run is one that did work", () =>
        Effect.gen(function* () {
          const worked = yield* ReconcileRuns.start
          yield* ReconcileRuns.finish({
            runId: worked.runId,
            status: "completed",
            examined: 2,
            drifted: 0,
            repaired: 1,
            failed: 0
          })
          yield* TestClock.adjust(1000)
          // A run stored empty (before empty runs were discarded) is skipped by latestWithWork.
          const oldEmpty = yield* ReconcileRuns.start
          yield* ReconcileRuns.finish({
            runId: oldEmpty.runId,
            status: "completed",
            examined: 0,
            drifted: 0,
            repaired: 0,
            failed: 0
          })
          yield* TestClock.adjust(1000)
          const empty = yield* ReconcileRuns.start
          assert.isTrue(yield* ReconcileRuns.discardEmpty(empty.runId))
          // Not stored, but still when the schedule last ran.
          assert.deepStrictEqual(yield* ReconcileRuns.lastStartedAt("pass"), Option.some(empty.startedAt))
          assert.isTrue(Option.isNone(yield* ReconcileRuns.lastStartedAt("audit")))
          assert.strictEqual((yield* ReconcileRuns.get(empty.runId).pipe(Effect.flip))._tag, "NotFound")
          assert.isFalse(yield* ReconcileRuns.discardEmpty(empty.runId))
          // Finished, or with drift recorded: kept.
          assert.isFalse(yield* ReconcileRuns.discardEmpty(worked.runId))
          assert.deepStrictEqual(
            Option.map(yield* ReconcileRuns.latestWithWork(), (r) => r.runId),
            Option.some(worked.runId)
          )
          assert.deepStrictEqual(
            Option.map(yield* ReconcileRuns.latest, (r) => r.runId),
            Option.some(oldEmpty.runId)
          )
          const drifted = yield* ReconcileRuns.start
          yield* ReconcileRuns.recordDrift({
            runId: drifted.runId,
            orderNumber: "6002",
            expected: 1,
            observed: 2,
            action: "none",
            result: "kept"
          })
          assert.isFalse(yield* ReconcileRuns.discardEmpty(drifted.runId))
          assert.strictEqual((yield* ReconcileRuns.discardEmpty("").pipe(Effect.flip))._tag, "InvalidInput")
          yield* ReconcileRuns.finish({
            runId: drifted.runId,
            status: "completed",
            examined: 0,
            drifted: 1,
            repaired: 0,
            failed: 0
          })
          assert.deepStrictEqual(
            (yield* ReconcileRuns.listRuns(10)).map((r) => r.runId),
            [drifted.runId, oldEmpty.runId, worked.runId]
          )
          assert.deepStrictEqual(
            Option.map(yield* ReconcileRuns.latestWithWork(), (r) => r.runId),
            Option.some(drifted.runId)
          )
        }).pipe(provideStore)
      )
    })
  })
