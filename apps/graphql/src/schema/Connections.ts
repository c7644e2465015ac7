/**
 * Relay-style cursor connections. Cursors are opaque strings: callers pass `endCursor` back as
 * `after` and never build one.
 */
import { GraphQLBoolean, type GraphQLObjectType, GraphQLScalarType, GraphQLString, Kind } from "graphql"
import { type Context, listOf, nonNull, objectType } from "./Builders.js"

export interface Edge<A> {
  readonly cursor: string
  readonly node: A
}

export interface Connection<A> {
  readonly edges: ReadonlyArray<Edge<A>>
  readonly hasNextPage: boolean
}

export const PageInfoType = objectType<Connection<unknown>>({
  name: "PageInfo",
  fields: {
    hasNextPage: { type: nonNull(GraphQLBoolean), resolve: (c) => c.hasNextPage },
    endCursor: {
      type: GraphQLString,
      description: "Pass as `after` for the next page.",
      resolve: (c) => c.edges.at(-1)?.cursor ?? null
    }
  }
})

export const connectionType = <A>(name: string, node: GraphQLObjectType<A, Context>, description: string) => {
  const edge = objectType<Edge<A>>({
    name: `${name}Edge`,
    fields: {
      cursor: { type: nonNull(GraphQLString), resolve: (e) => e.cursor },
      node: { type: nonNull(node), resolve: (e) => e.node }
    }
  })
  return objectType<Connection<A>>({
    name: `${name}Connection`,
    description,
    fields: {
      edges: { type: listOf(edge), resolve: (c) => c.edges },
      nodes: { type: listOf(node), resolve: (c) => c.edges.map((e) => e.node) },
      pageInfo: { type: nonNull(PageInfoType), resolve: (c) => c }
    }
  })
}

/** Epoch milliseconds out, ISO 8601 on the wire. Output only. */
export const DateTimeType = new GraphQLScalarType<string, string>({
  name: "DateTime",
  description: "An instant, as an ISO 8601 string in UTC (e.g. 2025-01-31T12:00:00.000Z).",
  serialize: (value) => {
    if (typeof value === "number" && Number.isFinite(value)) return new Date(value).toISOString()
    throw new TypeError("DateTime cannot represent a non-numeric instant")
  },
  parseValue: (value) => {
    if (typeof value === "string" && !Number.isNaN(Date.parse(value))) return value
    throw new TypeError("DateTime must be an ISO 8601 string")
  },
  parseLiteral: (ast) => {
    if (ast.kind === Kind.STRING && !Number.isNaN(Date.parse(ast.value))) return ast.value
    throw new TypeError("DateTime must be an ISO 8601 string")
  }
})
