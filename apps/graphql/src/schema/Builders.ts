/**
 * Small typed wrappers over graphql-js: object types are parameterised by the TypeScript type
 * of their source (core's and the store's Schema types), so a renamed or retyped field in those
 * packages breaks the build here instead of silently resolving to null.
 */
import {
  GraphQLList,
  GraphQLNonNull,
  type GraphQLNullableType,
  GraphQLObjectType,
  type GraphQLObjectTypeConfig,
  GraphQLUnionType
} from "graphql"
import type { GraphqlContext } from "../Context.js"

/** The GraphQL context: the per-request effect runner and memos. */
export type Context = GraphqlContext

export const objectType = <S>(config: GraphQLObjectTypeConfig<S, Context>): GraphQLObjectType<S, Context> =>
  new GraphQLObjectType<S, Context>(config)

export const nonNull = <T extends GraphQLNullableType>(type: T): GraphQLNonNull<T> => new GraphQLNonNull(type)

/** `[T!]!`: a list that is never null and never holds null. */
export const listOf = <T extends GraphQLNullableType>(type: T): GraphQLNonNull<GraphQLList<GraphQLNonNull<T>>> =>
  new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(type)))

/** `[T!]`: a list that may be null but never holds null. */
export const nullableListOf = <T extends GraphQLNullableType>(type: T): GraphQLList<GraphQLNonNull<T>> =>
  new GraphQLList(new GraphQLNonNull(type))

export type Tagged<T extends string, A> = A & { readonly _tag: T }

/** Tags a plain value (a wire model has no `_tag`) so a union can resolve it. */
export const tagged =
  <T extends string>(tag: T) =>
  <A extends object>(value: A): Tagged<T, A> => ({ ...value, _tag: tag })

/**
 * A union whose members are chosen by `_tag`. `members` must name a GraphQL type for every
 * tag of `S`, with that member's source type: the compiler checks the mapping is complete.
 */
export const taggedUnion = <S extends { readonly _tag: string }>(config: {
  readonly name: string
  readonly description: string
  readonly members: { readonly [T in S["_tag"]]: GraphQLObjectType<Extract<S, { readonly _tag: T }>, Context> }
}): GraphQLUnionType => {
  const members = Object.entries(config.members).flatMap(([tag, type]) => (isObjectType(type) ? [{ tag, type }] : []))
  const byTag = new Map(members.map(({ tag, type }) => [tag, type.name]))
  return new GraphQLUnionType({
    name: config.name,
    description: config.description,
    types: members.map(({ type }) => type),
    resolveType: (value: S) => byTag.get(value._tag)
  })
}

const isObjectType = (type: unknown): type is GraphQLObjectType => type instanceof GraphQLObjectType
