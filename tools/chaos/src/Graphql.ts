/** The GraphQL facade as a client sees it: POST /graphql with an API key, answers decoded with Schema. */
import { Schema } from "effect"
import * as Http from "./Http.js"

export const path = "/graphql"

const Line = Schema.Struct({
  orderLineId: Schema.String,
  state: Schema.String,
  downloadUrl: Schema.NullOr(Schema.String),
  viewUrl: Schema.NullOr(Schema.String)
})
const OrdersAnswer = Schema.Struct({
  data: Schema.Struct({
    ordersByNumber: Schema.Array(
      Schema.NullOr(Schema.Struct({ orderNumber: Schema.String, lines: Schema.Array(Line) }))
    )
  })
})

const ordersQuery = `query Urls($numbers: [ID!]!) {
  ordersByNumber(orderNumbers: $numbers) { orderNumber lines { orderLineId state downloadUrl viewUrl } }
}`

/** Orders with fresh download/view URLs (each selection asks HL Connect anew). */
export const ordersWithUrls = (graphqlUrl: string, apiKey: string, orderNumbers: ReadonlyArray<string>) =>
  Http.json(
    {
      method: "POST",
      url: `${graphqlUrl}${path}`,
      headers: {
        ...Http.bearer(apiKey),
        "content-type": "application/json",
        accept: "application/graphql-response+json"
      },
      body: JSON.stringify({ query: ordersQuery, variables: { numbers: orderNumbers } })
    },
    OrdersAnswer
  )
