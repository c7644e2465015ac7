/**
 * The three HL Connect writes. Each returns a union of its success and the failures its
 * endpoint documents; anything else (HL Connect unavailable, a bad token of ours …) goes to
 * `errors[]`, masked.
 */
import {
  type AlreadyRegistered,
  type AssetNotFound,
  type BadRequest,
  HlConnect,
  type InvalidOrderStatus,
  InvalidRequest,
  type OrderAlreadyExists,
  type OrderNotFound,
  type Registered,
  type ValidationToken
} from "@hlconnect/core"
import { Effect } from "effect"
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
import { type Context, nonNull, objectType, type Tagged, tagged, taggedUnion } from "./Builders.js"
import { DateTimeType } from "./Connections.js"
import {
  AssetNotFoundType,
  BadRequestType,
  type InvalidInputData,
  InvalidInputType,
  invalidInputData,
  InvalidOrderStatusType,
  OrderAlreadyExistsType,
  OrderNotFoundType,
  type ProblemData,
  problemData,
  type ValidationRejectedData,
  ValidationRejectedType,
  validationRejectedData
} from "./Problems.js"
import { parseOrderId } from "./Purchase.js"

/** Core names fields as on the wire (`customer_ip`); callers know them as in this schema (`customerIp`). */
const toSchemaField = (field: string) => field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
const inSchemaTerms = (e: InvalidRequest): InvalidInputData => {
  const field = toSchemaField(e.field)
  return invalidInputData(new InvalidRequest({ field, message: e.message.replace(e.field, field) }))
}

/** An `ID` argument HL Connect needs as a positive integer, or `InvalidInput` naming it. */
const positiveId = (field: string, raw: string): Effect.Effect<number, InvalidRequest> => {
  const id = parseOrderId(raw)
  return id === undefined
    ? Effect.fail(new InvalidRequest({ field, message: `${field}: expected a positive integer, got ${JSON.stringify(raw)}` }))
    : Effect.succeed(id)
}

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
    customerIp: { type: nonNull(GraphQLString), description: "The buyer's public IP (v4 or v6): HL Connect derives the country from it." },
    quantity: { type: nonNull(GraphQLInt) }
  }
})

interface ValidatePurchaseArgs {
  readonly input: { readonly assetId: number; readonly customerIp: string; readonly quantity: number }
}

const validatePurchase: GraphQLFieldConfig<unknown, Context, ValidatePurchaseArgs> = {
  type: nonNull(ValidatePurchaseResultType),
  description: "Ask HL Connect whether this purchase may go ahead (region, quantity …), before payment.",
  args: { input: { type: nonNull(ValidatePurchaseInput) } },
  resolve: (_source, { input }, ctx, info) =>
    ctx.run(
      Effect.flatMap(HlConnect, (hl) =>
        hl.validatePurchase({ asset_id: input.assetId, customer_ip: input.customerIp, quantity: input.quantity })
      ).pipe(
        Effect.map(tagged("ValidationToken")),
        Effect.catchTags({
          AssetNotFound: (e) => Effect.succeed(problemData(e)),
          ValidationRejected: (e) => Effect.succeed(validationRejectedData(e)),
          BadRequest: (e) => Effect.succeed(problemData(e)),
          InvalidRequest: (e) => Effect.succeed(inSchemaTerms(e))
        })
      ),
      info
    )
}

// ---------------------------------------------------------------------------
// registerPurchase
// ---------------------------------------------------------------------------

type Registration = (Registered | AlreadyRegistered) & { readonly order_number: number; readonly order_line_id: number }

const registrationFields = {
  orderNumber: { type: nonNull(GraphQLID), resolve: (r: Registration) => r.order_number },
  orderLineId: { type: nonNull(GraphQLID), resolve: (r: Registration) => r.order_line_id }
}

export const RegisteredType = objectType<Registration & { readonly _tag: "Registered" }>({
  name: "Registered",
  description: "HL Connect accepted the registration (201); fulfilment follows asynchronously.",
  fields: registrationFields
})

export const AlreadyRegisteredType = objectType<Registration & { readonly _tag: "AlreadyRegistered" }>({
  name: "AlreadyRegistered",
  description: "An earlier attempt of this same registration already reached HL Connect: it exists, as wanted.",
  fields: registrationFields
})

export const RegisterPurchaseResultType = taggedUnion<
  Registration | ProblemData<AssetNotFound> | ProblemData<OrderAlreadyExists> | ValidationRejectedData | InvalidInputData
>({
  name: "RegisterPurchaseResult",
  description: "The registration, or why HL Connect refused it (e.g. ValidationRejected with reason TokenExpired).",
  members: {
    Registered: RegisteredType,
    AlreadyRegistered: AlreadyRegisteredType,
    AssetNotFound: AssetNotFoundType,
    OrderAlreadyExists: OrderAlreadyExistsType,
    ValidationRejected: ValidationRejectedType,
    InvalidRequest: InvalidInputType
  }
})

const PurchasePartInput = new GraphQLInputObjectType({
  name: "PurchasePartInput",
  description: "An ensemble part sold with the line, as an order line of its own.",
  fields: { assetId: { type: nonNull(GraphQLInt) }, orderLineId: { type: nonNull(GraphQLID) } }
})

const RegisterPurchaseInput = new GraphQLInputObjectType({
  name: "RegisterPurchaseInput",
  fields: {
    token: { type: nonNull(GraphQLString), description: "From `validatePurchase`." },
    orderNumber: { type: nonNull(GraphQLID) },
    orderLineId: { type: nonNull(GraphQLID) },
    unitPrice: { type: nonNull(GraphQLFloat) },
    lineItemPrice: { type: nonNull(GraphQLFloat), description: "Total for the quantity." },
    customer: { type: nonNull(GraphQLString), description: "The customer's name; may be printed on the asset." },
    parts: { type: new GraphQLList(new GraphQLNonNull(PurchasePartInput)) },
    mayHaveBeenSentBefore: {
      type: GraphQLBoolean,
      defaultValue: false,
      description: "Set when an earlier attempt may have reached HL Connect: a 409 then means AlreadyRegistered."
    }
  }
})

interface RegisterPurchaseArgs {
  readonly input: {
    readonly token: string
    readonly orderNumber: string
    readonly orderLineId: string
    readonly unitPrice: number
    readonly lineItemPrice: number
    readonly customer: string
    readonly parts?: ReadonlyArray<{ readonly assetId: number; readonly orderLineId: string }> | null
    readonly mayHaveBeenSentBefore?: boolean | null
  }
}

const registerPurchase: GraphQLFieldConfig<unknown, Context, RegisterPurchaseArgs> = {
  type: nonNull(RegisterPurchaseResultType),
  description: "Register a paid purchase with HL Connect.",
  args: { input: { type: nonNull(RegisterPurchaseInput) } },
  resolve: (_source, { input }, ctx, info) =>
    ctx.run(
      Effect.gen(function* () {
        const hl = yield* HlConnect
        const order_number = yield* positiveId("orderNumber", input.orderNumber)
        const order_line_id = yield* positiveId("orderLineId", input.orderLineId)
        const parts = yield* Effect.forEach(input.parts ?? [], (part, i) =>
          Effect.map(positiveId(`parts.${i}.orderLineId`, part.orderLineId), (id) => ({ asset_id: part.assetId, order_line_id: id }))
        )
        const outcome = yield* hl.registerPurchase(
          {
            token: input.token,
            order_number,
            order_line_id,
            unit_price: input.unitPrice,
            line_item_price: input.lineItemPrice,
            customer: input.customer,
            ...(parts.length === 0 ? {} : { parts })
          },
          { mayHaveBeenSentBefore: input.mayHaveBeenSentBefore === true }
        )
        return { ...outcome, order_number, order_line_id }
      }).pipe(
        Effect.catchTags({
          AssetNotFound: (e) => Effect.succeed(problemData(e)),
          OrderAlreadyExists: (e) => Effect.succeed(problemData(e)),
          ValidationRejected: (e) => Effect.succeed(validationRejectedData(e)),
          InvalidRequest: (e) => Effect.succeed(inSchemaTerms(e))
        })
      ),
      info
    )
}

// ---------------------------------------------------------------------------
// cancelOrderLine
// ---------------------------------------------------------------------------

type Cancelled = Tagged<"OrderLineCancelled", { readonly order_id: number; readonly order_line_id: number }>

export const OrderLineCancelledType = objectType<Cancelled>({
  name: "OrderLineCancelled",
  description: "HL Connect cancelled the line (201).",
  fields: {
    orderNumber: { type: nonNull(GraphQLID), resolve: (c) => c.order_id },
    orderLineId: { type: nonNull(GraphQLID), resolve: (c) => c.order_line_id }
  }
})

export const CancelOrderLineResultType = taggedUnion<
  Cancelled | ProblemData<InvalidOrderStatus> | ProblemData<OrderNotFound> | InvalidInputData
>({
  name: "CancelOrderLineResult",
  description: "The cancellation, or why HL Connect refused it.",
  members: {
    OrderLineCancelled: OrderLineCancelledType,
    InvalidOrderStatus: InvalidOrderStatusType,
    OrderNotFound: OrderNotFoundType,
    InvalidRequest: InvalidInputType
  }
})

interface CancelOrderLineArgs {
  readonly orderNumber: string
  readonly orderLineId: string
}

const cancelOrderLine: GraphQLFieldConfig<unknown, Context, CancelOrderLineArgs> = {
  type: nonNull(CancelOrderLineResultType),
  description: "Cancel one order line at HL Connect.",
  args: { orderNumber: { type: nonNull(GraphQLID) }, orderLineId: { type: nonNull(GraphQLID) } },
  resolve: (_source, args, ctx, info) =>
    ctx.run(
      Effect.gen(function* () {
        const hl = yield* HlConnect
        const ref = {
          order_id: yield* positiveId("orderNumber", args.orderNumber),
          order_line_id: yield* positiveId("orderLineId", args.orderLineId)
        }
        yield* hl.cancelOrderLine(ref)
        return tagged("OrderLineCancelled")(ref)
      }).pipe(
        Effect.catchTags({
          InvalidOrderStatus: (e) => Effect.succeed(problemData(e)),
          OrderNotFound: (e) => Effect.succeed(problemData(e)),
          InvalidRequest: (e) => Effect.succeed(inSchemaTerms(e))
        })
      ),
      info
    )
}

export const mutationFields = { validatePurchase, registerPurchase, cancelOrderLine }
