/**
 * `registerPurchase` through the order workflow, as the webhook relay does it: the purchase is
 * recorded in the store as a `paid` line (the shared `PaidOrder` mapping), then sent by
 * `Fulfilment.registerLine`, which commits the intent before the call and is idempotent. The
 * reconciler therefore knows the line: it polls it to completion (or retries it) and publishes
 * its events. A repeated request for the same purchase is answered from the store.
 */
import {
  type AssetNotFound,
  CustomerName,
  decodeInput,
  EmailAddress,
  HlIdNumberFromText,
  HlIdText,
  InvalidRequest,
  invalidRequest,
  type OrderAlreadyExists,
  ValidationTokenText
} from "@hlconnect/core"
import { awaitsNewToken, Fulfilment, type FulfilmentError, type LineOutcome, PaidOrder } from "@hlconnect/fulfilment"
import { type InvalidInput, OrderLines } from "@hlconnect/store"
import { Clock, Duration, Effect, type Redacted, Schema } from "effect"
import {
  type InvalidInputData,
  invalidInputData,
  type ProblemData,
  problemData,
  type ValidationRejectedData,
  validationRejectedData
} from "./Answers.js"
import type { UpstreamBudgetExceeded, UpstreamRateLimited } from "./Errors.js"
import { inSchemaTerms } from "./MutationInput.js"
import {
  awaitingOperator,
  inProgressElsewhere,
  type OrderLineBlockedData,
  type OrderLineConflictData,
  type RetryScheduledData,
  retryScheduled
} from "./WorkflowAnswers.js"

export interface Registration {
  readonly _tag: "Registered" | "AlreadyRegistered"
  readonly order_number: number
  readonly order_line_id: number
}

export type RegisterResult =
  | Registration
  | ProblemData<AssetNotFound>
  | ProblemData<OrderAlreadyExists>
  | ValidationRejectedData
  | InvalidInputData
  | RetryScheduledData
  | OrderLineConflictData
  | OrderLineBlockedData

const Part = Schema.Struct({
  assetId: Schema.Int.pipe(Schema.positive({ message: () => "must be a positive integer" })),
  orderLineId: HlIdText
})

/**
 * `RegisterPurchaseInput`, decoded: prices in minor units; the token, name and email by core's rule
 * for caller text (`Text`: well-formed, one line, NFC, trimmed, bounded), so two spellings of a name
 * are one purchase. `mayHaveBeenSentBefore` is ignored (the store knows).
 */
export const RegisterPurchaseInput = Schema.Struct({
  token: ValidationTokenText,
  orderNumber: HlIdNumberFromText,
  orderLineId: HlIdNumberFromText,
  assetId: Schema.Int.pipe(Schema.positive({ message: () => "must be a positive integer" })),
  quantity: PaidOrder.Quantity,
  unitPrice: PaidOrder.MinorUnitsFromMajor,
  lineItemPrice: PaidOrder.MinorUnitsFromMajor,
  currency: Schema.String.pipe(Schema.pattern(/^[A-Z]{3}$/, { message: () => "must be an ISO 4217 code like EUR" })),
  customer: CustomerName,
  customerEmail: EmailAddress,
  parts: Schema.optional(
    Schema.NullOr(Schema.Array(Part).pipe(Schema.maxItems(64, { message: () => "at most 64 parts" })))
  )
}).pipe(
  Schema.filter(
    (input) =>
      input.unitPrice * input.quantity === input.lineItemPrice || {
        path: ["lineItemPrice"],
        message: "must equal unitPrice × quantity"
      }
  ),
  Schema.filter((input) => {
    const ids = [input.orderLineId, ...(input.parts ?? []).map((p) => Number(p.orderLineId))]
    return (
      new Set(ids).size === ids.length || {
        path: ["parts"],
        message: "order line ids (the line's and its parts') must be distinct"
      }
    )
  })
)
type RegisterPurchaseInput = typeof RegisterPurchaseInput.Type

const decodeRegisterInput = decodeInput(RegisterPurchaseInput, invalidRequest)

/** The input as the shop's paid order, for the shared mapping to the store. */
const paidOrderOf = (
  input: RegisterPurchaseInput
): { readonly order: PaidOrder.PaidOrder; readonly line: PaidOrder.PaidLine } => {
  const parts = input.parts ?? []
  const line: PaidOrder.PaidLine = {
    order_line_id: String(input.orderLineId),
    asset_id: String(input.assetId),
    quantity: input.quantity,
    unit_price: input.unitPrice,
    line_price: input.lineItemPrice,
    validation_token: input.token,
    ...(parts.length === 0
      ? {}
      : { parts: parts.map((p) => ({ asset_id: String(p.assetId), order_line_id: p.orderLineId })) })
  }
  const order: PaidOrder.PaidOrder = {
    order_number: String(input.orderNumber),
    customer: { name: input.customer, email: input.customerEmail },
    currency: input.currency,
    lines: [line]
  }
  return { order, line }
}

/** The store's field names, as this schema's input spells them. */
const inputFieldOf = (storeField: string): string =>
  storeField
    .replace(/^asset$/, "assetId")
    .replace(/^unitPriceMinor$/, "unitPrice")
    .replace(/^totalPriceMinor$/, "lineItemPrice")
    .replace(/^customerName$/, "customer")
    .replace(/^validationToken$/, "token")
    .replace(/^(parts\.\d+)\.asset$/, "$1.assetId")

const storeInputInSchemaTerms = (e: InvalidInput): InvalidRequest => {
  const field = inputFieldOf(e.field)
  return new InvalidRequest({ field, message: `${field}: ${e.message}` })
}

export const register = (
  args: unknown,
  /** Admits the HL Connect call, once the input is valid (bad input spends nothing of the caller's budget). */
  admit: Effect.Effect<void, UpstreamBudgetExceeded | UpstreamRateLimited>
): Effect.Effect<
  RegisterResult,
  FulfilmentError | UpstreamBudgetExceeded | UpstreamRateLimited,
  Fulfilment | OrderLines.OrderLines
> =>
  Effect.gen(function* () {
    const fulfilment = yield* Fulfilment
    const lines = yield* OrderLines.OrderLines
    const input = yield* decodeRegisterInput(args)
    yield* admit
    const ids = { order_number: input.orderNumber, order_line_id: input.orderLineId }
    const now = yield* Clock.currentTimeMillis
    const { order, line } = paidOrderOf(input)
    const wanted = PaidOrder.newOrderLine(order, line, {
      nextCheckAt: now + Duration.toMillis(PaidOrder.registrationGrace)
    })
    const recorded = yield* lines
      .create(wanted)
      .pipe(Effect.mapError((e) => (e._tag === "InvalidInput" ? storeInputInSchemaTerms(e) : e)))

    /** The answer a line's state gives, when nothing (more) is to be sent. */
    const byState = (current: OrderLines.OrderLine): RegisterResult => {
      const where = `order ${current.orderNumber} line ${current.orderLineId}`
      switch (current.state) {
        case "registered":
        case "processing":
        case "completed":
          return { _tag: "AlreadyRegistered", ...ids }
        case "paid":
        case "registering":
          return inProgressElsewhere(current, "registered", now)
        case "needs_attention":
          return awaitingOperator(current)
        default:
          return {
            _tag: "OrderLineBlocked",
            message: `${where} is ${current.state.replace("_", " ")}: it cannot be registered`,
            state: current.state
          }
      }
    }

    const fromOutcome = (
      outcome: LineOutcome,
      sent: OrderLines.OrderLine
    ): Effect.Effect<RegisterResult, FulfilmentError> => {
      switch (outcome._tag) {
        case "Registered":
          return Effect.succeed({ _tag: "Registered", ...ids })
        case "RetryLater":
          return Effect.succeed(retryScheduled("registration", outcome, "registering", "the line is recorded"))
        case "NeedsAttention": {
          const refusal = outcome.refusal
          switch (refusal?._tag) {
            case "ValidationRejected":
              return Effect.succeed(validationRejectedData(refusal))
            case "AssetNotFound":
            case "OrderAlreadyExists":
              return Effect.succeed(problemData(refusal))
            case "InvalidRequest":
              return Effect.succeed(invalidInputData(inSchemaTerms(refusal)))
            default:
              return Effect.succeed({ _tag: "OrderLineBlocked", message: outcome.reason, state: "needs_attention" })
          }
        }
        default:
          // Another worker moved the line first: answer by where it is now.
          return Effect.map(lines.get(sent), byState)
      }
    }

    let current = recorded.line
    if (!recorded.created) {
      const differs = PaidOrder.contentDifferences(current, wanted)
      if (differs.length > 0) {
        const fields = differs.map(inputFieldOf)
        return {
          _tag: "OrderLineConflict",
          message: `order ${current.orderNumber} line ${current.orderLineId} is already recorded with a different ${fields.join(", ")}; nothing was changed`,
          fields
        } satisfies OrderLineConflictData
      }
      current = yield* withNewToken(lines, current, wanted.validationToken, wanted.nextCheckAt)
    }
    if (current.state !== "paid" && current.state !== "registering") return byState(current)
    return yield* fromOutcome(yield* fulfilment.registerLine(current), current)
  }).pipe(Effect.catchTag("InvalidRequest", (e) => Effect.succeed(invalidInputData(e))))

/**
 * A repeated request may carry a new token (the caller validated again): a line not yet sent, or
 * parked because its token expired or was refused, takes it and goes back to `paid`, as the relay
 * does with a later `order.paid`. Any other line keeps the token it was sent with.
 */
const withNewToken = (
  lines: OrderLines.OrderLines,
  line: OrderLines.OrderLine,
  token: Redacted.Redacted<string> | undefined,
  nextCheckAt: number | undefined
) => {
  if (token === undefined || PaidOrder.holdsToken(line, token) || !(line.state === "paid" || awaitsNewToken(line)))
    return Effect.succeed(line)
  return lines
    .replaceValidationToken({
      orderNumber: line.orderNumber,
      orderLineId: line.orderLineId,
      expectedVersion: line.version,
      token,
      ...(nextCheckAt === undefined ? {} : { nextCheckAt })
    })
    .pipe(
      Effect.tap(() =>
        Effect.logInfo("validation token replaced; line back to paid", {
          orderNumber: line.orderNumber,
          orderLineId: line.orderLineId
        })
      ),
      // Someone else moved the line meanwhile: go on with it as it now is.
      Effect.catchTags({ StaleVersion: () => lines.get(line), IllegalTransition: () => lines.get(line) })
    )
}
