/**
 * Scenario 4, bad input: thousands of generated bad requests (BadRequests.ts) against a running
 * relay (its admin API's subscriber URL checks too, with the SSRF guard on) and GraphQL facade.
 * Each must get its clear 4xx (status, and a body naming the problem), or, for GraphQL's
 * `registerPurchase`, the union member it must answer (`InvalidInput` naming the field;
 * `AlreadyRegistered` for a known purchase re-sent with its customer spelled NFD);
 * nothing may be stored (the inbox, the relay's subscribers, the store's order lines and the sandbox's write endpoints
 * unchanged, the originals of re-sent ids intact) and no process may die.
 */
import { Inbox } from "@hlconnect/store"
import { Duration, Effect, Either, Layer, Option, Schedule, Schema } from "effect"
import * as Apps from "../Apps.js"
import * as BadRequests from "../BadRequests.js"
import { type HttpFailure, SetupFailed, StoreFailure } from "../Errors.js"
import * as Flow from "../Flow.js"
import * as Http from "../Http.js"
import * as Ledger from "../Ledger.js"
import * as Ports from "../Ports.js"
import type * as Processes from "../Processes.js"
import * as Purchases from "../Purchases.js"
import * as RelayAdmin from "../RelayAdmin.js"
import * as SandboxAdmin from "../SandboxAdmin.js"
import { launch, Workspace } from "../Workspace.js"

export interface Options {
  readonly requests: number
}

const RelayAnswer = Schema.parseJson(
  Schema.Struct({ error: Schema.optional(Schema.String), message: Schema.optional(Schema.String) })
)
const GraphqlAnswer = Schema.parseJson(
  Schema.Struct({ errors: Schema.NonEmptyArray(Schema.Struct({ message: Schema.String })) })
)
/** A mutation's answer in `data`: a union member, named by `__typename`. */
const GraphqlData = Schema.parseJson(
  Schema.Struct({
    data: Schema.Record({
      key: Schema.String,
      value: Schema.Struct({ __typename: Schema.String }).pipe(
        Schema.extend(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
      )
    })
  })
)
/** A GraphQL result that may have succeeded: `data`, and errors only if something was refused. */
const GraphqlResult = Schema.parseJson(
  Schema.Struct({
    data: Schema.Unknown,
    errors: Schema.optional(Schema.Array(Schema.Struct({ message: Schema.String })))
  })
)
const decodeRelay = Schema.decodeUnknownEither(RelayAnswer)
const decodeGraphql = Schema.decodeUnknownEither(GraphqlAnswer)
const decodeGraphqlData = Schema.decodeUnknownEither(GraphqlData)
const decodeGraphqlResult = Schema.decodeUnknownEither(GraphqlResult)

const show = (body: string) => JSON.stringify(body.slice(0, 160))

/** What is wrong with the answer to `r`, if anything. */
const judge = (r: BadRequests.BadRequest, res: Either.Either<Http.HttpResponse, HttpFailure>): string | undefined => {
  if (Either.isLeft(res)) return `no answer: ${res.left.message}`
  const { status, body } = res.right
  if (!r.expect.status.includes(status)) return `expected ${r.expect.status.join("/")}, got ${status} ${show(body)}`
  if (r.target === "relay") {
    const answer = decodeRelay(body)
    if (Either.isLeft(answer)) return `answer is not the relay's JSON: ${show(body)}`
    if (r.expect.code !== undefined && answer.right.error !== r.expect.code)
      return `expected error ${r.expect.code}, got ${show(body)}`
    return r.expect.says.test(body) ? undefined : `the body does not say ${r.expect.says}: ${show(body)}`
  }
  const expected = r.expect.answer
  if (expected !== undefined) {
    const data = decodeGraphqlData(body)
    const member = Either.isRight(data) ? data.right.data[expected.field] : undefined
    if (member === undefined) return `answer has no data.${expected.field}.__typename: ${show(body)}`
    if (member.__typename !== expected.typename)
      return `expected ${expected.typename}, got ${show(JSON.stringify(member))}`
    return r.expect.says.test(JSON.stringify(member))
      ? undefined
      : `the answer does not say ${r.expect.says}: ${show(JSON.stringify(member))}`
  }
  if (r.expect.mayAnswer === true) {
    const result = decodeGraphqlResult(body)
    if (Either.isLeft(result)) return `answer is no GraphQL result: ${show(body)}`
    const wrong = (result.right.errors ?? []).map((e) => e.message).filter((m) => !r.expect.says.test(m))
    return wrong.length === 0 ? undefined : `an error does not say ${r.expect.says}: ${show(wrong.join(" | "))}`
  }
  const answer = decodeGraphql(body)
  if (Either.isLeft(answer)) return `answer has no errors[].message: ${show(body)}`
  const messages = answer.right.errors.map((e) => e.message).join(" | ")
  return r.expect.says.test(messages) ? undefined : `the message does not say ${r.expect.says}: ${show(messages)}`
}

interface Tally {
  count: number
  statuses: Map<string, number>
  mismatches: Array<string>
}

/**
 * Whether the process still answers `/health/live`. A failed attempt is tried again twice: a pooled
 * connection the server closed as idle at that very moment fails a request without saying anything
 * about the process.
 */
const alive = (p: Processes.AppProcess) =>
  Effect.gen(function* () {
    if (!(yield* p.running)) return `${p.name} is not running`
    const res = yield* Http.request({
      method: "GET",
      url: `${p.url ?? ""}/health/live`,
      timeout: Duration.seconds(5)
    }).pipe(Effect.retry({ times: 2, schedule: Schedule.spaced(Duration.millis(200)) }), Effect.either)
    if (Either.isLeft(res)) return `${p.name} does not answer /health/live (${res.left.message})`
    return res.right.status === 200 ? undefined : `${p.name} answers /health/live with ${res.right.status}`
  })

export const run = (options: Options) =>
  Effect.gen(function* () {
    const ws = yield* Workspace
    const credentials = yield* Flow.credentials
    const dataDir = yield* ws.dir("bad-input-data")
    const store: Apps.StoreTarget = { _tag: "sqlite", dataDir }
    const sandbox = yield* Flow.sandbox("bad-input-sandbox", credentials)
    const upstream = { url: sandbox.url, token: sandbox.token }
    const [relayPort, graphqlPort] = yield* Effect.all([Ports.free, Ports.free])
    // No order completes here (no reconciler), so no subscriber: the relay's SSRF guard is on, as in production.
    const [relay, graphql] = yield* Effect.all(
      [
        launch(
          Apps.relay({
            name: "bad-input-relay",
            port: relayPort,
            store,
            upstream,
            webhookSecret: credentials.webhookSecret,
            adminToken: credentials.adminToken,
            secretsKey: credentials.secretsKey
          })
        ),
        launch(
          Apps.graphql({
            name: "bad-input-graphql",
            port: graphqlPort,
            store,
            upstream,
            apiKey: credentials.graphqlKey
          })
        )
      ],
      { concurrency: 2 }
    )
    const relayUrl = Apps.urlOf(relayPort)
    const graphqlUrl = Apps.urlOf(graphqlPort)
    const admin: RelayAdmin.Admin = { url: relayUrl, token: credentials.adminToken }
    const sign = Purchases.signer(credentials.webhookSecret)

    // A few real purchases first: their ids and signatures are what replays reuse.
    const { orders, purchases } = yield* Flow.purchases(10, sandbox, "bad-input-seed")
    const accepted = yield* Effect.forEach(purchases, (p) =>
      Effect.gen(function* () {
        const headers = sign(p.webhookId, p.body)
        yield* Http.expectStatus(
          { method: "POST", url: `${relayUrl}/webhooks/commerce`, headers, body: p.body },
          (s) => s === 202
        )
        return { id: p.webhookId, body: p.body, headers } satisfies BadRequests.Accepted
      })
    )
    const expectedKeys = orders.flatMap((o) =>
      o.lines.flatMap((l) =>
        [l.orderLineId, ...l.parts.map((x) => x.orderLineId)].map((id) => `${o.orderNumber}:${id}`)
      )
    )
    yield* SandboxAdmin.stats(sandbox).pipe(
      Effect.filterOrFail(
        (s) => expectedKeys.every((k) => (s.registrations[k] ?? 0) > 0),
        () => new SetupFailed({ message: "the seed purchases were not registered at the sandbox within 60 s" })
      ),
      Effect.retry({ schedule: Schedule.spaced(Duration.millis(500)), times: 120 })
    )
    const inboxBefore = (yield* RelayAdmin.inboxAll(admin)).length
    const subscribersBefore = (yield* RelayAdmin.subscribers(admin)).length
    const requestsBefore = (yield* SandboxAdmin.stats(sandbox)).requests
    const storeContext = yield* Layer.build(Ledger.layer({ _tag: "sqlite", filename: `${dataDir}/hlconnect.db` }))
    // Registered in the store too, not only at the sandbox: a known purchase re-sent is AlreadyRegistered.
    const seedLines = orders.flatMap((o) => o.lines.map((l) => Ledger.key(o.orderNumber, l.orderLineId)))
    const alreadyRegistered = ["registered", "processing", "completed"]
    yield* Ledger.lineStates(orders).pipe(
      Effect.provide(storeContext),
      Effect.filterOrFail(
        (states) => seedLines.every((k) => alreadyRegistered.includes(states.get(k)?.state ?? "")),
        () => new SetupFailed({ message: "the seed lines were not registered in the store within 60 s" })
      ),
      Effect.retry({ schedule: Schedule.spaced(Duration.millis(500)), times: 120 })
    )
    const linesBefore = yield* Ledger.countLines.pipe(Effect.provide(storeContext))

    const ctx: BadRequests.Context = {
      sign,
      forge: Purchases.signer(BadRequests.strangerSecret()),
      graphqlKey: credentials.graphqlKey,
      adminToken: credentials.adminToken,
      toleranceSeconds: 300,
      relayLimit: 1024 * 1024,
      accepted,
      storedOrders: orders.map((o) => o.orderNumber)
    }
    const requests = BadRequests.generate(ctx, options.requests, ws.random.int(1, 2 ** 30))
    yield* Effect.logInfo(`bad-input: sending ${requests.length} generated requests`)
    const tallies = new Map<string, Tally>()
    yield* Effect.forEach(
      requests,
      (r) =>
        Effect.gen(function* () {
          const res = yield* Http.request({
            method: r.method,
            url: `${r.target === "relay" ? relayUrl : graphqlUrl}${r.path}`,
            headers: r.headers,
            ...(r.body === undefined ? {} : { body: r.body }),
            chunked: r.chunked,
            timeout: Duration.seconds(60)
          }).pipe(Effect.either)
          const tally: Tally = tallies.get(r.category) ?? {
            count: 0,
            statuses: new Map<string, number>(),
            mismatches: []
          }
          tallies.set(r.category, tally)
          tally.count++
          const status = Either.isRight(res) ? String(res.right.status) : "no answer"
          tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1)
          const wrong = judge(r, res)
          if (wrong !== undefined) tally.mismatches.push(wrong)
        }),
      { concurrency: 32, discard: true }
    )

    // Nothing stored, nothing registered, nobody dead.
    const problems: Array<string> = []
    const inboxAfter = (yield* RelayAdmin.inboxAll(admin)).length
    if (inboxAfter !== inboxBefore) problems.push(`the inbox went from ${inboxBefore} to ${inboxAfter} events`)
    const subscribersAfter = (yield* RelayAdmin.subscribers(admin)).length
    if (subscribersAfter !== subscribersBefore)
      problems.push(`the relay went from ${subscribersBefore} to ${subscribersAfter} subscribers`)
    const linesAfter = yield* Ledger.countLines.pipe(Effect.provide(storeContext))
    if (linesAfter !== linesBefore) problems.push(`the store went from ${linesBefore} to ${linesAfter} order lines`)
    const altered = yield* Effect.forEach(accepted, (a) =>
      Effect.map(Inbox.Inbox.pipe(Effect.flatMap((inbox) => inbox.get(a.id))), (stored) =>
        Option.isSome(stored) && stored.value.body === a.body ? undefined : a.id
      )
    ).pipe(
      Effect.provide(storeContext),
      Effect.mapError((e) => new StoreFailure({ message: `reading the inbox: ${e.message}` }))
    )
    const changed = altered.filter((id) => id !== undefined)
    if (changed.length > 0)
      problems.push(`${changed.length} stored events changed or gone: ${changed.slice(0, 3).join(", ")}`)
    const requestsAfter = (yield* SandboxAdmin.stats(sandbox)).requests
    for (const endpoint of ["validatePurchase", "registerPurchase", "cancelOrderLine"]) {
      const before = requestsBefore[endpoint] ?? 0
      const after = requestsAfter[endpoint] ?? 0
      if (after !== before) problems.push(`HL Connect ${endpoint} was called ${after - before} times by bad input`)
    }
    // The amplification queries (the only bad input selecting a URL): ≤ 1 call per distinct (order, line) each.
    const linesOf = new Map(orders.map((o) => [o.orderNumber, o.lines.length]))
    const amplifying = requests.filter((r) => r.category === BadRequests.amplificationCategory)
    const names = (body: string, order: string) => new RegExp(`(^|[^0-9])${order}([^0-9]|$)`).test(body)
    const urlBound = amplifying.reduce(
      (n, r) =>
        n + Math.max(0, ...[...linesOf].filter(([order]) => names(String(r.body), order)).map(([, lines]) => lines)),
      0
    )
    const urlCalls = (requestsAfter.downloadUrl ?? 0) - (requestsBefore.downloadUrl ?? 0)
    if (urlCalls > urlBound)
      problems.push(
        `${amplifying.length} amplification queries made ${urlCalls} downloadUrl calls, more than one per distinct line (${urlBound})`
      )
    const dead = (yield* Effect.forEach([sandbox.process, relay, graphql], alive)).filter((d) => d !== undefined)
    problems.push(...dead, ...(yield* Flow.unexpectedExits([sandbox.process, relay, graphql])))

    const categories = [...tallies.entries()].sort(([a], [b]) => a.localeCompare(b))
    for (const [category, t] of categories) {
      if (t.mismatches.length > 0) {
        problems.push(
          `${category}: ${t.mismatches.length}/${t.count} wrong, e.g. ${t.mismatches.slice(0, 2).join("; ")}`
        )
      }
    }
    const relayCount = requests.filter((r) => r.target === "relay").length
    return {
      load: `${Flow.count(requests.length)} requests (relay ${Flow.count(relayCount)}, GraphQL ${Flow.count(requests.length - relayCount)})`,
      faults: `${categories.length} kinds of bad input`,
      lost: undefined,
      duplicated: undefined,
      problems,
      facts: [
        `inbox: ${inboxBefore} events before, ${inboxAfter} after; subscribers: ${subscribersBefore} before, ${subscribersAfter} after; order lines: ${linesBefore} before, ${linesAfter} after; the ${accepted.length} originals of re-sent ids intact: ${changed.length === 0}`,
        `amplification: ${amplifying.length} queries of 1,400 downloadUrl selections each → ${urlCalls} downloadUrl calls (at most ${urlBound}: one per distinct line)`,
        ...categories.map(
          ([category, t]) =>
            `${category}: ${Flow.count(t.count)} → ${[...t.statuses.entries()].map(([s, n]) => `${Flow.count(n)}× ${s}`).join(", ")}${t.mismatches.length === 0 ? "" : ` (${t.mismatches.length} wrong)`}`
        ),
        "GraphQL requests send Accept: application/graphql-response+json (with application/json or */*, yoga answers 200 + errors for parse/validation failures, as GraphQL over HTTP allows)"
      ]
    } satisfies Flow.Outcome
  })
