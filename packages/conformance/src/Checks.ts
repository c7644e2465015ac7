/**
 * The conformance checks, in the order they run: read-only ones always (health, a refused
 * token, the catalog, a validation, the documented 404s of an order that cannot exist), and the
 * purchase round trip only when asked. Every answer also feeds the drift ledger (`Probe.call`);
 * each success is decoded with the core client's own models.
 */
import {
  AssetsListResponse,
  DownloadUrl,
  ErrorResponse,
  HealthItems,
  type AssetItem,
  OrderItems,
  PurchaseInProcessingResponse,
  ValidationToken,
  ViewUrl
} from "@hlconnect/core"
import { Clock, Duration, Effect, Either, Option, ParseResult, Redacted, Schema } from "effect"
import type { DriftLedger } from "./Drift.js"
import { ContractCannotRun } from "./Errors.js"
import { type Answer, call, type Target } from "./Probe.js"

export interface Check {
  readonly name: string
  readonly result: "PASS" | "FAIL"
  /** One line, never a URL or a token. */
  readonly reason: string
}

export interface CheckOptions {
  readonly maxPages: number
  readonly customerIp: string
  readonly purchase: boolean
}

/** An order number no vendor has: near the top of a 32-bit int (2^31 − 1 − 4242), far above real ones. */
export const UnknownOrderNumber = 2 ** 31 - 1 - 4_242
/** Test purchases are numbered 9 000 000 000 + UNIX seconds: clearly not a real order. */
export const TestOrderBase = 9_000_000_000
/** A token no server issues, for the 401 check. */
const WrongToken = Redacted.make("hlconnect-contract-deliberately-wrong-token")

const pass = (name: string, reason: string): Check => ({ name, result: "PASS", reason })
const fail = (name: string, reason: string): Check => ({ name, result: "FAIL", reason })

const statusText = (answer: Answer) => `${answer.status}${answer.documented ? "" : " (undocumented)"}`

/** Decodes a body with a core model; on failure, where (never the value: it may be a credential). */
const decode = <A, I>(model: Schema.Schema<A, I>, answer: Answer): Either.Either<A, string> => {
  if (Option.isNone(answer.json)) return Either.left("the body is not JSON")
  return Schema.decodeUnknownEither(model)(answer.json.value).pipe(
    Either.mapLeft((error) => {
      const [first] = ParseResult.ArrayFormatter.formatErrorSync(error)
      const where = first === undefined || first.path.length === 0 ? "the body" : first.path.map(String).join(".")
      return `does not decode with the core model at ${where} (see the drift rows)`
    })
  )
}

/** `name` passes when `answer` has `status` and decodes with `model`. */
const expectAnswer = <A, I>(
  name: string,
  answer: Answer,
  status: number,
  model: Schema.Schema<A, I>,
  describe: (value: A) => Either.Either<string, string>
): { readonly check: Check; readonly value: Option.Option<A> } => {
  if (answer.status !== status)
    return { check: fail(name, `expected ${status}, got ${statusText(answer)}`), value: Option.none() }
  const decoded = decode(model, answer)
  if (Either.isLeft(decoded)) return { check: fail(name, `${status}, but ${decoded.left}`), value: Option.none() }
  const verdict = describe(decoded.right)
  return {
    check: Either.isRight(verdict) ? pass(name, verdict.right) : fail(name, verdict.left),
    value: Option.some(decoded.right)
  }
}

const expectNotFound = (name: string, answer: Answer): Check =>
  expectAnswer(name, answer, 404, ErrorResponse, (body) =>
    Either.right(`404${body.message === undefined ? "" : `: ${body.message}`}`)
  ).check

const emptySuccess = (name: string, answer: Answer): Check =>
  answer.status === 201 ? pass(name, "201") : fail(name, `expected 201, got ${statusText(answer)}`)

/** The asset a validation (and a test purchase) uses: sellable everywhere and not partable, if any. */
const pickAsset = (assets: ReadonlyArray<AssetItem>): AssetItem | undefined =>
  assets.find((a) => a.asset_id !== undefined && a.world === true && a.partable !== true) ??
  assets.find((a) => a.asset_id !== undefined)

const priceOf = (asset: AssetItem): number =>
  asset.retail_price ?? asset.prices?.find((p) => p.type_usage === "digital")?.price ?? asset.prices?.[0]?.price ?? 0

const cents = (n: number) => Math.round(n * 100) / 100

interface Catalog {
  readonly check: Check
  readonly assets: ReadonlyArray<AssetItem>
}

/** The keyset of a page as sent, to keep paging past a page the model rejects (its drift is the point). */
const Keyset = Schema.Struct({
  last_id: AssetsListResponse.fields.last_id,
  next_page: AssetsListResponse.fields.next_page
})

const catalog = (target: Target, ledger: DriftLedger, maxPages: number) =>
  Effect.gen(function* () {
    const name = "catalog pages decode"
    const assets: Array<AssetItem> = []
    const rejected: Array<string> = []
    let lastId: number | null = null
    let pages = 0
    let end = "--max-pages reached"
    while (pages < maxPages) {
      const answer: Answer = yield* call(
        target,
        ledger,
        "listAssets",
        lastId === null ? {} : { query: { last_id: lastId } }
      )
      pages++
      if (pages === 1 && answer.status === 401) {
        return yield* new ContractCannotRun({ message: `${target.baseUrl.origin} refused the given token (401)` })
      }
      if (answer.status !== 200) {
        return { check: fail(name, `page ${pages}: expected 200, got ${statusText(answer)}`), assets } satisfies Catalog
      }
      const decoded = decode(AssetsListResponse, answer)
      if (Either.isRight(decoded)) assets.push(...decoded.right.assets)
      else rejected.push(`page ${pages} ${decoded.left}`)
      const keyset = Option.flatMap(answer.json, Schema.decodeUnknownOption(Keyset))
      if (Option.isNone(keyset)) {
        end = "no keyset to go on"
        break
      }
      if (keyset.value.next_page === null || keyset.value.last_id === null) {
        end = "the last page"
        break
      }
      lastId = keyset.value.last_id
    }
    const summary = `${pages} page(s), ${end}`
    const check =
      rejected.length === 0
        ? pass(name, `${summary}, ${assets.length} assets`)
        : fail(name, `${rejected.length} of ${pages} page(s) rejected: ${rejected[0]}`)
    return { check, assets } satisfies Catalog
  })

/** The read-only checks, then the purchase round trip when `options.purchase`. */
export const runChecks = (
  target: Target,
  ledger: DriftLedger,
  options: CheckOptions,
  announce: (line: string) => Effect.Effect<void>
): Effect.Effect<ReadonlyArray<Check>, ContractCannotRun> =>
  Effect.gen(function* () {
    const checks: Array<Check> = []

    const health = yield* call(target, ledger, "health", { anonymous: true })
    checks.push(
      expectAnswer("health", health, 200, HealthItems, (items) => {
        const down = items.filter((i) => !i.health).map((i) => i.name)
        return down.length === 0
          ? Either.right(`200, ${items.length} component(s) healthy`)
          : Either.left(`200, but unhealthy: ${down.join(", ")}`)
      }).check
    )

    const listed = yield* catalog(target, ledger, options.maxPages)

    const refused = yield* call(target, ledger, "listAssets", { query: { page_size: 1 }, token: WrongToken })
    checks.push(
      refused.status === 401
        ? expectAnswer("a wrong token is refused", refused, 401, ErrorResponse, () => Either.right("401")).check
        : fail("a wrong token is refused", `expected 401, got ${statusText(refused)}`)
    )
    checks.push(listed.check)

    const asset = pickAsset(listed.assets)
    const quantity = Math.max(1, asset?.min_qty ?? 1)
    let token: Option.Option<ValidationToken> = Option.none()
    if (asset?.asset_id === undefined) {
      checks.push(fail("validate before payment", "the catalog pages had no asset to validate"))
    } else {
      const assetId = asset.asset_id
      const answer = yield* call(target, ledger, "validatePurchase", {
        body: { asset_id: assetId, customer_ip: options.customerIp, quantity }
      })
      const now = yield* Clock.currentTimeMillis
      const validated = expectAnswer(`validate before payment`, answer, 200, ValidationToken, (t) =>
        Either.right(
          `asset ${assetId} × ${quantity} from ${options.customerIp}: a token for ${Math.round((t.exp_date * 1000 - now) / 60_000)} min`
        )
      )
      checks.push(validated.check)
      token = validated.value
    }

    const unknown = { order_id: UnknownOrderNumber, order_line_id: 1 }
    checks.push(
      expectNotFound(
        "info of an unknown order is 404",
        yield* call(target, ledger, "purchaseInfo", { query: { order_id: UnknownOrderNumber } })
      )
    )
    checks.push(
      expectNotFound(
        "download-url of an unknown order is 404",
        yield* call(target, ledger, "downloadUrl", { query: unknown })
      )
    )
    checks.push(
      expectNotFound("view-url of an unknown order is 404", yield* call(target, ledger, "viewUrl", { query: unknown }))
    )
    checks.push(
      expectNotFound(
        "cancel of an unknown order is 404",
        yield* call(target, ledger, "cancelOrderLine", { query: unknown })
      )
    )

    if (options.purchase) {
      if (asset?.asset_id === undefined || Option.isNone(token)) {
        checks.push(fail("purchase", "no validated asset to buy"))
      } else {
        checks.push(...(yield* purchase(target, ledger, { asset, quantity, token: token.value }, announce)))
      }
    }
    return checks
  })

const PollLimit = Duration.minutes(3)

const purchase = (
  target: Target,
  ledger: DriftLedger,
  input: { readonly asset: AssetItem; readonly quantity: number; readonly token: ValidationToken },
  announce: (line: string) => Effect.Effect<void>
) =>
  Effect.gen(function* () {
    const checks: Array<Check> = []
    const orderNumber = TestOrderBase + Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const line = { order_id: orderNumber, order_line_id: 1 }
    const unitPrice = cents(priceOf(input.asset))
    yield* announce(
      `--purchase: registering test order ${orderNumber} line 1 (asset ${input.asset.asset_id} × ${input.quantity} at ${unitPrice}), ` +
        "polling it to the end, fetching its download and view URLs (not printed), then cancelling it"
    )

    const registered = yield* call(target, ledger, "registerPurchase", {
      body: {
        token: input.token.token,
        order_number: orderNumber,
        order_line_id: 1,
        line_item_price: cents(unitPrice * input.quantity),
        unit_price: unitPrice,
        customer: "HL Connect contract check (test order)"
      }
    })
    checks.push(emptySuccess(`register test order ${orderNumber}`, registered))
    if (registered.status !== 201) return checks

    const started = yield* Clock.currentTimeMillis
    let polls = 0
    let delay = 250
    let info = yield* call(target, ledger, "purchaseInfo", { query: { order_id: orderNumber } })
    while (info.status === 202 && (yield* Clock.currentTimeMillis) - started < Duration.toMillis(PollLimit)) {
      polls++
      const processing = decode(PurchaseInProcessingResponse, info)
      if (Either.isLeft(processing)) break
      yield* Effect.sleep(Duration.millis(delay))
      delay = Math.min(Math.round(delay * 1.5), 5_000)
      info = yield* call(target, ledger, "purchaseInfo", { query: { order_id: orderNumber } })
    }
    const seconds = (((yield* Clock.currentTimeMillis) - started) / 1000).toFixed(1)
    checks.push(
      expectAnswer("info polled to the end", info, 200, OrderItems, (items) => {
        const ours = items.find((i) => i.order_line_id === 1)
        if (ours === undefined) return Either.left("200, but line 1 is not in it")
        return ours.status === "COMPLETED"
          ? Either.right(`COMPLETED after ${polls} poll(s) of 202, ${seconds} s`)
          : Either.left(`200, but line 1 is ${ours.status ?? "without a status"}`)
      }).check
    )

    const httpsRequired = target.baseUrl.protocol === "https:"
    const describeUrl = (url: string | undefined): Either.Either<string, string> => {
      if (url === undefined) return Either.left("200, but no url came")
      let parsed: URL
      try {
        parsed = new URL(url)
      } catch {
        return Either.left("200, but the url is not a URL")
      }
      const https = parsed.protocol === "https:"
      const summary = `a URL came: host ${parsed.host}, ${https ? "https" : parsed.protocol.replace(":", "")}`
      return httpsRequired && !https ? Either.left(`${summary}, where the base URL is https`) : Either.right(summary)
    }
    checks.push(
      expectAnswer("download-url", yield* call(target, ledger, "downloadUrl", { query: line }), 200, DownloadUrl, (d) =>
        describeUrl(d.url)
      ).check
    )
    checks.push(
      expectAnswer("view-url", yield* call(target, ledger, "viewUrl", { query: line }), 200, ViewUrl, (v) =>
        describeUrl(v.url)
      ).check
    )
    checks.push(
      emptySuccess(
        `cancel test order ${orderNumber} line 1`,
        yield* call(target, ledger, "cancelOrderLine", { query: line })
      )
    )
    return checks
  })
