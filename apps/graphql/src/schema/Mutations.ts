/**
 * The three HL Connect writes. Each returns a union of its success and the failures its
 * endpoint documents; anything else (HL Connect unavailable, a bad token of ours …) goes to
 * `errors[]`, masked. `registerPurchase` and `cancelOrderLine` go through the order workflow
 * (see `Registration`, `Cancellation`), so their unions also hold the workflow's own problems.
 */
import {
  type AssetNotFound,
  type BadRequest,
  decodeInput,
  HlConnect,
  invalidRequest,
  type ValidationToken
} from "@hlconnect/core"
import { PaidOrder } from "@hlconnect/fulfilment"
import { Effect, Fiber, Schema } from "effect"
import {
  type GraphQLFieldConfig,
  GraphQLBoolean,
  GraphQLFloat,
  GraphQLID,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLString
} from "graphql"
import {
  type InvalidInputData,
  invalidInputData,
  type ProblemData,
  problemData,
  type ValidationRejectedData,
  validationRejectedData
} from "../Answers.js"
import { type Cancelled, type CancelResult, cancel } from "../Cancellation.js"
import { inSchemaTerms } from "../MutationInput.js"
import { type Registration, type RegisterResult, register } from "../Registration.js"
import { type Context, nonNull, objectType, type Tagged, tagged, taggedUnion } from "./Builders.js"
import { DateTimeType } from "./Connections.js"
import {
  AssetNotFoundType,
  BadRequestType,
  InvalidInputType,
  InvalidOrderStatusType,
  OrderAlreadyExistsType,
  OrderNotFoundType,
  ValidationRejectedType
} from "./Problems.js"
import { OrderLineBlockedType, OrderLineConflictType, RetryScheduledType } from "./Workflow.js"

/**
 * A workflow write runs to its end even when its client goes away: reads are interrupted with the
 * request (`Runner`), but a registration or cancellation cut between its steps would leave the line
 * for the reconciler to untangle, and the client could not learn its fate either way. Finished, it
 * is recorded and announced like any other (`order.*` events). The write runs on a fiber of its own
 * that the request only joins: interrupting the request stops the waiting, not the write, and the
 * write stays interruptible inside (its timeouts still work).
 */
const finishes = <A, E, R>(write: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.forkDaemon(write), Fiber.join)

// ---------------------------------------------------------------------------
// validatePurchase
// ---------------------------------------------------------------------------

type TaggedToken = Tagged<"ValidationToken", ValidationToken>

export const ValidationTokenType = objectType<TaggedToken>({
  name: "ValidationToken",
  description: "Proof that the purchase may go ahead; pass `token` to `registerPurchase` before it expires.",
  fields: {
    token: { type: nonNull(GraphQLString), resolve: (t) => t.token },
    expiresAt: { type: nonNull(DateTimeType), resolve: (t) => t.exp_date * 1000 }
  }
})

export const ValidatePurchaseResultType = taggedUnion<
  TaggedToken | ProblemData<AssetNotFound> | ValidationRejectedData | ProblemData<BadRequest> | InvalidInputData
>({
  name: "ValidatePurchaseResult",
  description: "A token, or why HL Connect would refuse the purchase.",
  members: {
    ValidationToken: ValidationTokenType,
    AssetNotFound: AssetNotFoundType,
    ValidationRejected: ValidationRejectedType,
    BadRequest: BadRequestType,
    InvalidRequest: InvalidInputType
  }
})

const ValidatePurchaseInput = new GraphQLInputObjectType({
  name: "ValidatePurchaseInput",
  fields: {
    assetId: { type: nonNull(GraphQLInt) },
    customerIp: {
      type: nonNull(GraphQLString),
      description: "The buyer's public IP (v4 or v6): HL Connect derives the country from it."
    },
    quantity: { type: nonNull(GraphQLInt), description: `1 to ${PaidOrder.MaxQuantity}.` }
  }
})

interface ValidatePurchaseArgs {
  readonly input: { readonly assetId: number; readonly customerIp: string; readonly quantity: number }
}

/** What this facade checks before asking HL Connect: the quantity rule `registerPurchase` applies too. */
const decodeValidateInput = decodeInput(
  Schema.Struct({ assetId: Schema.Int, customerIp: Schema.String, quantity: PaidOrder.Quantity }),
  invalidRequest
)

const validatePurchase: GraphQLFieldConfig<unknown, Context, ValidatePurchaseArgs> = {
  type: nonNull(ValidatePurchaseResultType),
  description: "Ask HL Connect whether this purchase may go ahead (region, quantity …), before payment.",
  args: { input: { type: nonNull(ValidatePurchaseInput) } },
  resolve: (_source, args, ctx, info) =>
    ctx.run(
      Effect.flatMap(decodeValidateInput(args.input), (input) =>
        Effect.flatMap(HlConnect, (hl) =>
          Effect.zipRight(
            ctx.upstream.admit,
            hl.validatePurchase({ asset_id: input.assetId, customer_ip: input.customerIp, quantity: input.quantity })
          )
        )
      ).pipe(
        Effect.map(tagged("ValidationToken")),
        Effect.catchTags({
          AssetNotFound: (e) => Effect.succeed(problemData(e)),
          ValidationRejected: (e) => Effect.succeed(validationRejectedData(e)),
          BadRequest: (e) => Effect.succeed(problemData(e)),
          InvalidRequest: (e) => Effect.succeed(invalidInputData(inSchemaTerms(e)))
        })
      ),
      info
    )
}

// ---------------------------------------------------------------------------
// registerPurchase
// ---------------------------------------------------------------------------

const registrationFields = {
  orderNumber: { type: nonNull(GraphQLID), resolve: (r: Registration) => r.order_number },
  orderLineId: { type: nonNull(GraphQLID), resolve: (r: Registration) => r.order_line_id }
}

export const RegisteredType = objectType<Registration & { readonly _tag: "Registered" }>({
  name: "Registered",
  description:
    "HL Connect accepted the registration (201). The line is recorded locally as `registered`; the reconciler follows it to completion and publishes `order.completed`.",
  fields: registrationFields
})

export const AlreadyRegisteredType = objectType<Registration & { readonly _tag: "AlreadyRegistered" }>({
  name: "AlreadyRegistered",
  description:
    "This same purchase was registered before (it is recorded locally as registered or further): nothing new was sent to HL Connect.",
  fields: registrationFields
})

export const RegisterPurchaseResultType = taggedUnion<RegisterResult>({
  name: "RegisterPurchaseResult",
  description:
    "The registration, why HL Connect refused it (e.g. ValidationRejected with reason TokenExpired), or what the local workflow says (a conflicting record, a blocked line, a retry scheduled).",
  members: {
    Registered: RegisteredType,
    AlreadyRegistered: AlreadyRegisteredType,
    AssetNotFound: AssetNotFoundType,
    OrderAlreadyExists: OrderAlreadyExistsType,
    ValidationRejected: ValidationRejectedType,
    InvalidRequest: InvalidInputType,
    RetryScheduled: RetryScheduledType,
    OrderLineConflict: OrderLineConflictType,
    OrderLineBlocked: OrderLineBlockedType
  }
})

const PurchasePartInput = new GraphQLInputObjectType({
  name: "PurchasePartInput",
  description: "An ensemble part sold with the line, as an order line of its own.",
  fields: { assetId: { type: nonNull(GraphQLInt) }, orderLineId: { type: nonNull(GraphQLID) } }
})

const RegisterPurchaseInput = new GraphQLInputObjectType({
  name: "RegisterPurchaseInput",
  description:
    "A paid purchase, recorded locally as the webhook relay records `order.paid`, then registered with HL Connect. Repeating the same input is safe.",
  fields: {
    token: { type: nonNull(GraphQLString), description: "From `validatePurchase`." },
    orderNumber: { type: nonNull(GraphQLID) },
    orderLineId: { type: nonNull(GraphQLID) },
    assetId: { type: nonNull(GraphQLInt), description: "The asset validated with `token`." },
    quantity: { type: nonNull(GraphQLInt), description: `As validated (1 to ${PaidOrder.MaxQuantity}).` },
    unitPrice: { type: nonNull(GraphQLFloat), description: "In major units, at most 2 decimals (3.99)." },
    lineItemPrice: { type: nonNull(GraphQLFloat), description: "Total for the quantity: unitPrice × quantity." },
    currency: { type: nonNull(GraphQLString), description: "ISO 4217, e.g. EUR." },
    customer: { type: nonNull(GraphQLString), description: "The customer's name; may be printed on the asset." },
    customerEmail: { type: nonNull(GraphQLString) },
    parts: { type: new GraphQLList(new GraphQLNonNull(PurchasePartInput)) },
    mayHaveBeenSentBefore: {
      type: GraphQLBoolean,
      defaultValue: false,
      deprecationReason: "Ignored: the local record knows whether an earlier attempt may have reached HL Connect.",
      description: "Ignored (see deprecation)."
    }
  }
})

const registerPurchase: GraphQLFieldConfig<unknown, Context, { readonly input: unknown }> = {
  type: nonNull(RegisterPurchaseResultType),
  description:
    "Record a paid purchase locally and register it with HL Connect, through the same workflow as the webhook relay (idempotent; followed by the reconciler).",
  args: { input: { type: nonNull(RegisterPurchaseInput) } },
  // Valid input counts as one HL Connect call, made or not (it may be answered from the store).
  // A write finishes what it started even when its client goes away (see `finishes`).
  resolve: (_source, { input }, ctx, info) => ctx.run(finishes(register(input, ctx.upstream.admit)), info)
}

// ---------------------------------------------------------------------------
// cancelOrderLine
// ---------------------------------------------------------------------------

export const OrderLineCancelledType = objectType<Cancelled>({
  name: "OrderLineCancelled",
  description:
    "The line is cancelled: through the local workflow when `tracked` (recorded as `cancelled`, `order.cancelled` published; never sent lines are cancelled without calling HL Connect), else directly at HL Connect (201).",
  fields: {
    orderNumber: { type: nonNull(GraphQLID), resolve: (c) => c.order_id },
    orderLineId: { type: nonNull(GraphQLID), resolve: (c) => c.order_line_id },
    tracked: {
      type: nonNull(GraphQLBoolean),
      description:
        "Whether the line is recorded locally. False: unknown here (e.g. registered by another system), cancelled at HL Connect only.",
      resolve: (c) => c.tracked
    }
  }
})

export const CancelOrderLineResultType = taggedUnion<CancelResult>({
  name: "CancelOrderLineResult",
  description:
    "The cancellation, why HL Connect refused it, or what the local workflow says (a blocked line, a retry scheduled).",
  members: {
    OrderLineCancelled: OrderLineCancelledType,
    InvalidOrderStatus: InvalidOrderStatusType,
    OrderNotFound: OrderNotFoundType,
    InvalidRequest: InvalidInputType,
    RetryScheduled: RetryScheduledType,
    OrderLineBlocked: OrderLineBlockedType
  }
})

const cancelOrderLine: GraphQLFieldConfig<
  unknown,
  Context,
  { readonly orderNumber: string; readonly orderLineId: string }
> = {
  type: nonNull(CancelOrderLineResultType),
  description:
    "Cancel one order line: through the local workflow when the line is recorded here, else directly at HL Connect (see `tracked`).",
  args: { orderNumber: { type: nonNull(GraphQLID) }, orderLineId: { type: nonNull(GraphQLID) } },
  // Valid arguments count as one HL Connect call, made or not (a line never sent is cancelled locally).
  resolve: (_source, args, ctx, info) => ctx.run(finishes(cancel(args, ctx.upstream.admit)), info)
}

export const mutationFields = { validatePurchase, registerPurchase, cancelOrderLine }
