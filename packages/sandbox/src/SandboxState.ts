/**
 * Everything the sandbox remembers: catalog, validation tokens, orders, issued URLs, faults and
 * what it has seen. In memory: a sandbox restart is a clean HL Connect.
 */
import {
  AssetNotFound,
  type AssetsListResponse,
  DownloadUrl,
  InvalidOrderStatus,
  OrderAlreadyExists,
  OrderItem,
  OrderNotFound,
  OrderProcessingFailed,
  type PurchaseRegisterRequest,
  type PurchaseValidateBeforePaymentRequest,
  ValidationRejected,
  ValidationToken,
  ViewUrl
} from "@hlconnect/core"
import { BearerAuth } from "@hlconnect/service"
import { Clock, Duration, Effect } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { type SandboxAsset, seedCatalog, toAssetItem } from "./Catalog.js"
import { drawFault, type FaultKind, type FaultSettings, latencyMillis, type ScriptedFault } from "./Faults.js"
import { countryOf } from "./Regions.js"
import { defaultSandboxOptions, type SandboxOptions } from "./SandboxConfig.js"

export type LineStatus = "PROCESSING" | "COMPLETED" | "FAILED" | "CANCELLED"

interface Line {
  readonly order_id: number
  readonly order_line_id: number
  readonly asset_id: number
  readonly customer: string
  readonly unit_price: number
  readonly line_item_price: number
  readonly quantity: number
  readonly country_code: string
  readonly registeredAtMillis: number
  polls: number
  /** Set once the line leaves PROCESSING. */
  settled: LineStatus | undefined
}

interface IssuedToken {
  readonly asset_id: number
  readonly quantity: number
  readonly country: string
  readonly expiresAtMillis: number
}

interface IssuedUrl {
  readonly kind: "download" | "view"
  readonly order_id: number
  readonly order_line_id: number
  readonly expiresAtMillis: number
}

export interface SandboxStats {
  /** API requests seen, by endpoint name (faulted ones included). */
  readonly requests: Readonly<Record<string, number>>
  /** Responses sent, by `endpoint status` (e.g. `registerPurchase 201`). */
  readonly responses: Readonly<Record<string, number>>
  /** Registrations that created a line, by `order:line` — 1 each when clients are idempotent. */
  readonly registrations: Readonly<Record<string, number>>
  /** Faults injected, by kind. */
  readonly faults: Readonly<Record<string, number>>
  /** Requests the client went away from before they were answered (it aborted or hung up), by endpoint name. */
  readonly abandoned: Readonly<Record<string, number>>
}

export interface InjectedFault {
  readonly kind: FaultKind
  readonly retryAfterSeconds: number
  readonly delayMillis: number
  readonly status: number
  readonly body: string
}

const increment = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)

/** A small seeded PRNG (mulberry32): fault runs can be replayed from their seed. */
const seededRandom = (seed: number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const rejected = (reason: string, message: string) => new ValidationRejected({ reason, message })

const PRICE_TOLERANCE = 0.005

/** Issued URLs held before expired ones are first forgotten. */
const URL_SWEEP_MIN = 10_000

export class SandboxState extends Effect.Service<SandboxState>()("@hlconnect/sandbox/SandboxState", {
  effect: (options: SandboxOptions = defaultSandboxOptions) =>
    Effect.sync(() => {
      const catalog = new Map(seedCatalog().map((a) => [a.asset_id, a]))
      const catalogIds = [...catalog.keys()].sort((a, b) => a - b)
      const tokens = new Map<string, IssuedToken>()
      const orders = new Map<number, Map<number, Line>>()
      const urls = new Map<string, IssuedUrl>()
      const failing = new Set(options.failingAssets)
      const requests = new Map<string, number>()
      const responses = new Map<string, number>()
      const registrations = new Map<string, number>()
      const faultsInjected = new Map<string, number>()
      const abandoned = new Map<string, number>()
      let faults = options.faults
      let script: Array<{ fault: ScriptedFault; remaining: number }> = []
      const random = seededRandom(options.seed)
      const fulfilmentDelayMillis = Duration.toMillis(options.fulfilmentDelay)
      const tokenTtlMillis = Duration.toMillis(options.validationTokenTtl)
      const urlTtlMillis = Duration.toMillis(options.urlTtl)
      const bearer = BearerAuth.make(options.accessTokens)

      const statusOf = (line: Line, now: number): LineStatus => {
        if (line.settled !== undefined) return line.settled
        const due =
          now - line.registeredAtMillis >= fulfilmentDelayMillis ||
          (options.fulfilmentPolls > 0 && line.polls >= options.fulfilmentPolls)
        if (!due) return "PROCESSING"
        line.settled = failing.has(line.asset_id) ? "FAILED" : "COMPLETED"
        return line.settled
      }

      // Past this many URLs held, the next issue forgets the expired ones (then it is set to twice
      // what is left): memory stays bounded by the TTL, and each issue costs O(1) amortised. A
      // sweep on every issue once 10 000 valid URLs were held cost ~3 ms per `/purchase/info`.
      let sweepAbove = URL_SWEEP_MIN
      const issueUrl = (kind: "download" | "view", line: Line, now: number, publicBaseUrl: string) => {
        if (urls.size > sweepAbove) {
          for (const [id, u] of urls) if (u.expiresAtMillis <= now) urls.delete(id)
          sweepAbove = Math.max(URL_SWEEP_MIN, 2 * urls.size)
        }
        // 122 random bits, as 32 hex digits: randomUUID draws from a batch of random bytes Node keeps,
        // where randomBytes(16) asked the CSPRNG for every URL (two per `/purchase/info` line).
        const id = randomUUID().replaceAll("-", "")
        urls.set(id, {
          kind,
          order_id: line.order_id,
          order_line_id: line.order_line_id,
          expiresAtMillis: now + urlTtlMillis
        })
        return `${publicBaseUrl}/nf/${kind}/${id}`
      }

      const toItem = (line: Line, now: number, publicBaseUrl: string): OrderItem => {
        const status = statusOf(line, now)
        const fulfilled = status === "COMPLETED"
        // The line's fields were validated when it was registered: no second check per response.
        return OrderItem.make(
          {
            order_id: line.order_id,
            order_line_id: line.order_line_id,
            asset_id: line.asset_id,
            customer: line.customer,
            unit_price: line.unit_price,
            line_item_price: line.line_item_price,
            quantity: line.quantity,
            country_code: line.country_code,
            download_url: fulfilled ? issueUrl("download", line, now, publicBaseUrl) : null,
            view_url: fulfilled ? issueUrl("view", line, now, publicBaseUrl) : null,
            status
          },
          true
        )
      }

      const findLine = (orderId: number, lineId: number) => {
        const line = orders.get(orderId)?.get(lineId)
        return line === undefined
          ? Effect.fail(new OrderNotFound({ message: `no order line ${lineId} in order ${orderId}` }))
          : Effect.succeed(line)
      }

      const validatePurchase = (request: PurchaseValidateBeforePaymentRequest) =>
        Effect.flatMap(
          Clock.currentTimeMillis,
          (now): Effect.Effect<ValidationToken, AssetNotFound | ValidationRejected> => {
            const asset = catalog.get(request.asset_id)
            if (asset === undefined)
              return Effect.fail(new AssetNotFound({ message: `asset ${request.asset_id} does not exist` }))
            const country = countryOf(request.customer_ip)
            if (country === undefined) {
              return Effect.fail(
                rejected("InvalidCountry", `cannot determine the buyer's country from ${request.customer_ip}`)
              )
            }
            if (!asset.world && !asset.countries.includes(country)) {
              return Effect.fail(
                rejected("NotSellableInCountry", `asset ${asset.asset_id} is not sellable in ${country}`)
              )
            }
            if (request.quantity < asset.min_qty) {
              return Effect.fail(
                rejected(
                  "QuantityBelowMinimum",
                  `asset ${asset.asset_id} requires a quantity of at least ${asset.min_qty}`
                )
              )
            }
            const token = randomBytes(24).toString("base64url")
            const expiresAtMillis = now + tokenTtlMillis
            tokens.set(token, { asset_id: asset.asset_id, quantity: request.quantity, country, expiresAtMillis })
            return Effect.succeed(ValidationToken.make({ token, exp_date: Math.floor(expiresAtMillis / 1000) }))
          }
        )

      const checkToken = (request: PurchaseRegisterRequest, now: number) => {
        const issued = tokens.get(request.token)
        if (issued === undefined) return rejected("InvalidToken", "the validation token is unknown")
        if (issued.expiresAtMillis <= now)
          return rejected("TokenExpired", "the validation token has expired; validate again")
        return issued
      }

      const registerPurchase = (request: PurchaseRegisterRequest) =>
        Effect.flatMap(
          Clock.currentTimeMillis,
          (now): Effect.Effect<void, AssetNotFound | OrderAlreadyExists | ValidationRejected> => {
            const parts = request.parts ?? []
            // The line's own asset comes from its validation token; parts name theirs.
            const missingPart = parts.find((p) => !catalog.has(p.asset_id))
            if (missingPart !== undefined) {
              return Effect.fail(new AssetNotFound({ message: `asset ${missingPart.asset_id} does not exist` }))
            }
            const issued = checkToken(request, now)
            if (issued instanceof ValidationRejected) return Effect.fail(issued)
            const asset = catalog.get(issued.asset_id)
            if (asset === undefined)
              return Effect.fail(new AssetNotFound({ message: `asset ${issued.asset_id} does not exist` }))
            if (Math.abs(request.unit_price * issued.quantity - request.line_item_price) > PRICE_TOLERANCE) {
              return Effect.fail(
                rejected(
                  "PriceMismatch",
                  `line_item_price ${request.line_item_price} is not unit_price × quantity (${request.unit_price} × ${issued.quantity})`
                )
              )
            }
            const foreignPart = parts.find((p) => !asset.partIds.has(p.asset_id))
            if (foreignPart !== undefined) {
              return Effect.fail(
                rejected(
                  "PartNotInAsset",
                  asset.partIds.size === 0
                    ? `asset ${asset.asset_id} is not partable: its parts cannot be bought one by one`
                    : `asset ${foreignPart.asset_id} is not a part of asset ${asset.asset_id}`
                )
              )
            }
            const lineIds = [request.order_line_id, ...parts.map((p) => p.order_line_id)]
            if (new Set(lineIds).size !== lineIds.length) {
              return Effect.fail(rejected("RepeatedOrderLine", "order_line_id repeats within the request"))
            }
            const order = orders.get(request.order_number) ?? new Map<number, Line>()
            const existing = lineIds.find((id) => order.has(id))
            if (existing !== undefined) {
              return Effect.fail(
                new OrderAlreadyExists({
                  message: `order ${request.order_number} line ${existing} is already registered`
                })
              )
            }
            const entries: ReadonlyArray<readonly [number, number]> = [
              [request.order_line_id, asset.asset_id],
              ...parts.map((p) => [p.order_line_id, p.asset_id] as const)
            ]
            for (const [lineId, assetId] of entries) {
              order.set(lineId, {
                order_id: request.order_number,
                order_line_id: lineId,
                asset_id: assetId,
                customer: request.customer,
                unit_price: lineId === request.order_line_id ? request.unit_price : 0,
                line_item_price: lineId === request.order_line_id ? request.line_item_price : 0,
                quantity: issued.quantity,
                country_code: issued.country,
                registeredAtMillis: now,
                polls: 0,
                settled: undefined
              })
              increment(registrations, `${request.order_number}:${lineId}`)
            }
            orders.set(request.order_number, order)
            return Effect.void
          }
        )

      /** 200 items, or 202 while any line is processing, or 502 when every line failed. */
      const purchaseInfo = (orderId: number, publicBaseUrl: string) =>
        Effect.flatMap(
          Clock.currentTimeMillis,
          (now): Effect.Effect<"PROCESSING" | ReadonlyArray<OrderItem>, OrderNotFound | OrderProcessingFailed> => {
            const order = orders.get(orderId)
            if (order === undefined || order.size === 0) {
              return Effect.fail(new OrderNotFound({ message: `no orders for order_id ${orderId}` }))
            }
            const lines = [...order.values()]
            for (const line of lines) line.polls++
            const statuses = lines.map((line) => statusOf(line, now))
            if (statuses.includes("PROCESSING")) return Effect.succeed("PROCESSING")
            if (statuses.every((s) => s === "FAILED")) {
              return Effect.fail(
                new OrderProcessingFailed({ status: "FAILED", message: `order ${orderId} processing failed` })
              )
            }
            return Effect.succeed(lines.map((line) => toItem(line, now, publicBaseUrl)))
          }
        )

      const orderLineUrl = (kind: "download" | "view", orderId: number, lineId: number, publicBaseUrl: string) =>
        Effect.flatMap(findLine(orderId, lineId), (line) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            statusOf(line, now) === "COMPLETED"
              ? Effect.succeed(issueUrl(kind, line, now, publicBaseUrl))
              : Effect.fail(new OrderNotFound({ message: `order line ${lineId} of order ${orderId} is not fulfilled` }))
          )
        )

      const cancelOrderLine = (orderId: number, lineId: number) =>
        Effect.flatMap(findLine(orderId, lineId), (line) =>
          Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<void, InvalidOrderStatus> => {
            const status = statusOf(line, now)
            if (status === "FAILED" || status === "CANCELLED") {
              return Effect.fail(
                new InvalidOrderStatus({ message: `order line ${lineId} is ${status} and cannot be cancelled` })
              )
            }
            line.settled = "CANCELLED"
            return Effect.void
          })
        )

      const listAssets = (pageSize: number, lastId: number, publicBaseUrl: string): AssetsListResponse => {
        const page: Array<SandboxAsset> = []
        for (const id of catalogIds) {
          if (id <= lastId) continue
          const asset = catalog.get(id)
          if (asset !== undefined) page.push(asset)
          if (page.length === pageSize) break
        }
        const last = page.at(-1)?.asset_id ?? null
        const more = last !== null && catalogIds.some((id) => id > last)
        return {
          assets: page.map(toAssetItem),
          last_id: last,
          next_page: more ? `${publicBaseUrl}/assets/list?page_size=${pageSize}&last_id=${last}` : null
        }
      }

      /** Whether an issued URL is still good, for the sandbox's own `/nf/...` routes. */
      const resolveUrl = (kind: string, id: string) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const url = urls.get(id)
          if (url === undefined || url.kind !== kind) return "unknown" as const
          return url.expiresAtMillis > now ? ("valid" as const) : ("expired" as const)
        })

      /** The fault for this request: a scripted one first, else the dice. */
      const nextFault = (endpoint: string): InjectedFault | undefined => {
        const index = script.findIndex((s) => s.fault.endpoint === undefined || s.fault.endpoint === endpoint)
        const scripted = script[index]
        if (scripted !== undefined) {
          scripted.remaining--
          if (scripted.remaining <= 0) script.splice(index, 1)
          increment(faultsInjected, scripted.fault.kind)
          return {
            kind: scripted.fault.kind,
            retryAfterSeconds: scripted.fault.retry_after_seconds,
            delayMillis: scripted.fault.delay_ms,
            status: scripted.fault.status,
            body: scripted.fault.body
          }
        }
        const kind = drawFaultKind(endpoint)
        if (kind === undefined) return undefined
        increment(faultsInjected, kind)
        return { kind, retryAfterSeconds: faults.retry_after_seconds, delayMillis: 0, status: 500, body: "" }
      }
      const drawFaultKind = (endpoint: string) => drawFault(faults, endpoint, random)

      return {
        environment: options.environment,
        /** Whether an `Authorization` header carries one of the accepted tokens (`SANDBOX_TOKENS`). */
        authorize: bearer.authorize,
        validatePurchase,
        registerPurchase,
        purchaseInfo,
        downloadUrl: (orderId: number, lineId: number, base: string) =>
          Effect.map(orderLineUrl("download", orderId, lineId, base), (url) => DownloadUrl.make({ url })),
        viewUrl: (orderId: number, lineId: number, base: string) =>
          Effect.map(orderLineUrl("view", orderId, lineId, base), (url) => ViewUrl.make({ url })),
        cancelOrderLine,
        listAssets,
        resolveUrl,
        nextFault,
        latencyFor: (endpoint: string) => latencyMillis(faults, endpoint, random),
        recordRequest: (endpoint: string) => increment(requests, endpoint),
        recordResponse: (endpoint: string, status: number) => increment(responses, `${endpoint} ${status}`),
        recordAbandoned: (endpoint: string) => increment(abandoned, endpoint),
        setFaults: (settings: FaultSettings) =>
          Effect.sync(() => {
            faults = settings
          }),
        getFaults: Effect.sync(() => faults),
        scriptFaults: (scripted: ReadonlyArray<ScriptedFault>) =>
          Effect.sync(() => {
            script = [...script, ...scripted.map((fault) => ({ fault, remaining: fault.times }))]
          }),
        /** Forgets faults and counters (not orders): a test's clean slate. */
        resetFaultsAndStats: Effect.sync(() => {
          faults = options.faults
          script = []
          requests.clear()
          responses.clear()
          registrations.clear()
          faultsInjected.clear()
          abandoned.clear()
        }),
        stats: Effect.sync(
          (): SandboxStats => ({
            requests: Object.fromEntries(requests),
            responses: Object.fromEntries(responses),
            registrations: Object.fromEntries(registrations),
            faults: Object.fromEntries(faultsInjected),
            abandoned: Object.fromEntries(abandoned)
          })
        ),
        /** Test hook: settle a line now, whatever the clock says. */
        settleLine: (orderId: number, lineId: number, status: LineStatus) =>
          Effect.map(findLine(orderId, lineId), (line) => {
            line.settled = status === "PROCESSING" ? undefined : status
          })
      }
    })
}) {}
