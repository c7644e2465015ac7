/**
 * The read side: local orders joined with HL Connect, HL Connect's answers, its catalog, health.
 */
import { HlConnect, OrderNotFound, parseHlId } from "@hlconnect/core"
import { OrderLines } from "@hlconnect/store"
import { Effect, Either, Option, ParseResult, Schema } from "effect"
import { type GraphQLFieldConfig, GraphQLID, GraphQLInt, GraphQLList, GraphQLString } from "graphql"
import { problemData } from "../Answers.js"
import { BadUserInput } from "../Errors.js"
import { listOrders } from "../OrderPages.js"
import { type Context, listOf, nonNull } from "./Builders.js"
import { AssetConnectionType, assetConnection } from "./Catalog.js"
import { connectionType } from "./Connections.js"
import { healthReport, HealthType } from "./Health.js"
import { OrderLineStateType, OrderType } from "./Orders.js"
import { PurchaseStatusType } from "./Purchase.js"

/** Most items one page or list may ask for. */
export const MaxPageSize = 100

/**
 * A page size, checked when the field runs: a well-typed but out-of-range `first` (0, 101, an
 * explicit null), written out or in a variable, is a field error with `BAD_USER_INPUT` and, as
 * GraphQL over HTTP has it once execution started, HTTP 200. (A value of the wrong type, `1.5`
 * or `"ten"`, is a request error before execution: 400.)
 */
const pageSize = (first: number | null): Effect.Effect<number, BadUserInput> =>
  first !== null && first >= 1 && first <= MaxPageSize
    ? Effect.succeed(first)
    : Effect.fail(
        new BadUserInput({ argument: "first", message: `first must be between 1 and ${MaxPageSize}, got ${first}` })
      )

const decodeLocalOrderNumber = Schema.decodeUnknownEither(OrderLines.OrderLineKey.fields.orderNumber)

/**
 * An order number as the store can hold one (its identifier rule): `""`, SQL-ish text or
 * non-ASCII digits are the caller's error, named, and never reach the store.
 */
const localOrderNumber = (argument: string, raw: string): Effect.Effect<string, BadUserInput> =>
  Either.match(decodeLocalOrderNumber(raw), {
    onLeft: (error) =>
      Effect.fail(
        new BadUserInput({
          argument,
          message: `${argument} ${JSON.stringify(raw)} is not an order number: ${ParseResult.ArrayFormatter.formatErrorSync(error)[0]?.message ?? error.message}`
        })
      ),
    onRight: Effect.succeed
  })

const order: GraphQLFieldConfig<unknown, Context, { readonly orderNumber: string }> = {
  type: OrderType,
  description: "One order as stored locally, joined with HL Connect's live answer; null when unknown locally.",
  args: { orderNumber: { type: nonNull(GraphQLID) } },
  resolve: (_source, args, ctx, info) =>
    ctx
      .run(localOrderNumber("orderNumber", args.orderNumber), info)
      .then((n) => ctx.orders.load(n, info).then(Option.getOrNull))
}

const ordersByNumber: GraphQLFieldConfig<unknown, Context, { readonly orderNumbers: ReadonlyArray<string> }> = {
  type: nonNull(new GraphQLList(OrderType)),
  description: `Several orders at once (at most ${MaxPageSize}), in the order asked; null for an unknown one. Repeats are fine: each order is read once.`,
  args: { orderNumbers: { type: listOf(GraphQLID) } },
  resolve: async (_source, args, ctx, info) => {
    const numbers = await ctx.run(
      args.orderNumbers.length > MaxPageSize
        ? new BadUserInput({ argument: "orderNumbers", message: `at most ${MaxPageSize} order numbers` })
        : Effect.forEach(args.orderNumbers, (n, i) => localOrderNumber(`orderNumbers.${i}`, n)),
      info
    )
    // The loader reads each distinct number once, however often it is repeated.
    return Promise.all(numbers.map((n) => ctx.orders.load(n, info).then(Option.getOrNull)))
  }
}

export const OrderConnectionType = connectionType(
  OrderType.name,
  OrderType,
  "Local orders with at least one line in the given state."
)

interface OrdersArgs {
  readonly state: OrderLines.OrderLineState
  readonly first: number | null
  readonly after?: string | null
}

const orders: GraphQLFieldConfig<unknown, Context, OrdersArgs> = {
  type: nonNull(OrderConnectionType),
  description: "Local orders with a line in `state`, in order-number order, a page at a time.",
  args: {
    state: { type: nonNull(OrderLineStateType) },
    first: { type: GraphQLInt, defaultValue: 20, description: `1 to ${MaxPageSize}.` },
    after: { type: GraphQLString, description: "An `endCursor` (or an edge's cursor) from a previous page." }
  },
  resolve: async (_source, args, ctx, info) => {
    const page = await ctx.run(
      Effect.flatMap(pageSize(args.first), (first) =>
        listOrders({ state: args.state, first, after: args.after ?? undefined }).pipe(
          Effect.catchTag("InvalidInput", (e) =>
            Effect.fail(new BadUserInput({ argument: "after", message: e.message }))
          )
        )
      ),
      info
    )
    // An order that vanished between the two reads is left out.
    const edges = await Promise.all(
      page.edges.map((edge) =>
        ctx.orders.load(edge.node, info).then(Option.map((node) => ({ cursor: edge.cursor, node })))
      )
    )
    return { edges: edges.flatMap(Option.toArray), hasNextPage: page.hasNextPage }
  }
}

const purchaseStatusField: GraphQLFieldConfig<unknown, Context, { readonly orderNumber: string }> = {
  type: nonNull(PurchaseStatusType),
  description: "HL Connect's live answer about an order: completed (with its lines), processing, failed, or not found.",
  args: { orderNumber: { type: nonNull(GraphQLID) } },
  resolve: (_source, args, ctx, info) => {
    const orderId = parseHlId(args.orderNumber)
    // A number HL Connect cannot have issued names no order there.
    return orderId === undefined
      ? problemData(
          new OrderNotFound({
            message: `HL Connect order numbers are positive integers, got ${JSON.stringify(args.orderNumber)}`
          })
        )
      : ctx.purchaseStatus.load(orderId, info)
  }
}

interface AssetsArgs {
  readonly first: number | null
  readonly after?: string | null
}

const assets: GraphQLFieldConfig<unknown, Context, AssetsArgs> = {
  type: nonNull(AssetConnectionType),
  description: "HL Connect's catalog, in asset id order, one `/assets/list` page at a time.",
  args: {
    first: { type: GraphQLInt, defaultValue: 20, description: `1 to ${MaxPageSize}.` },
    after: { type: GraphQLString, description: "An `endCursor` (or an edge's cursor) from a previous page." }
  },
  resolve: (_source, args, ctx, info) =>
    ctx.run(
      Effect.gen(function* () {
        const first = yield* pageSize(args.first)
        const after = args.after ?? undefined
        if (after !== undefined && !/^\d{1,15}$/.test(after)) {
          return yield* new BadUserInput({ argument: "after", message: "malformed cursor" })
        }
        const hl = yield* HlConnect
        yield* ctx.upstream.admit
        const page = yield* hl.listAssets(
          after === undefined ? { page_size: first } : { page_size: first, last_id: Number(after) }
        )
        return assetConnection(page)
      }),
      info
    )
}

const health: GraphQLFieldConfig<unknown, Context> = {
  type: nonNull(HealthType),
  description: "The store and HL Connect, checked now.",
  // Checks HL Connect: a call like any other.
  resolve: (_source, _args, ctx, info) => ctx.run(Effect.zipRight(ctx.upstream.admit, healthReport), info)
}

export const queryFields = { order, ordersByNumber, orders, purchaseStatus: purchaseStatusField, assets, health }
