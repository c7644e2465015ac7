/**
 * The client for services not written with Effect: plain async functions that resolve to a
 * discriminated union and never reject for an expected failure.
 *
 *   const hl = makePromiseClient({ baseUrl, accessToken: token })  // a plain string
 *   const r = await hl.purchaseInfo({ order_id: 12345 })
 *   if (r.ok && r.value._tag === "Completed") …  else if (!r.ok && r.error._tag === "OrderNotFound") …
 *   await hl.close()
 *
 * The token is a plain string (or a `Redacted`): no `effect` import is needed. It is kept
 * `Redacted` inside and never logged. A defect (a bug, not an answer of HL Connect) rejects the
 * promise.
 */
import { Effect, Either, ManagedRuntime } from "effect"
import { type PromiseClientOptions, toClientOptions } from "./ClientConfig.js"
import { HlConnect } from "./HlConnect.js"

export type Result<A, E> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly error: E }

type Methods = Pick<
  HlConnect,
  | "validatePurchase"
  | "registerPurchase"
  | "purchaseInfo"
  | "downloadUrl"
  | "viewUrl"
  | "cancelOrderLine"
  | "listAssets"
  | "health"
>

/** Each method of `HlConnect`, as an async function returning a `Result`. */
export type PromiseClient = {
  readonly [K in keyof Methods]: Methods[K] extends (...args: infer Args) => Effect.Effect<infer A, infer E>
    ? (...args: Args) => Promise<Result<A, E>>
    : never
} & {
  /** Closes the connection pool. */
  readonly close: () => Promise<void>
}

const toResult = <A, E>(either: Either.Either<A, E>): Result<A, E> =>
  Either.isRight(either) ? { ok: true, value: either.right } : { ok: false, error: either.left }

export const makePromiseClient = (options: PromiseClientOptions): PromiseClient => {
  const runtime = ManagedRuntime.make(HlConnect.Default(toClientOptions(options)))
  const run = <A, E>(use: (client: HlConnect) => Effect.Effect<A, E>): Promise<Result<A, E>> =>
    runtime.runPromise(Effect.either(Effect.flatMap(HlConnect, use))).then(toResult)
  return {
    validatePurchase: (input) => run((c) => c.validatePurchase(input)),
    registerPurchase: (input, registerOptions) => run((c) => c.registerPurchase(input, registerOptions)),
    purchaseInfo: (input) => run((c) => c.purchaseInfo(input)),
    downloadUrl: (input) => run((c) => c.downloadUrl(input)),
    viewUrl: (input) => run((c) => c.viewUrl(input)),
    cancelOrderLine: (input) => run((c) => c.cancelOrderLine(input)),
    listAssets: (input) => run((c) => c.listAssets(input)),
    health: () => run((c) => c.health()),
    close: () => runtime.dispose()
  }
}
