/**
 * The facade's GraphQL schema, built in code from typed parts (see `Builders`).
 */
import { GraphQLSchema } from "graphql"
import { objectType } from "./Builders.js"
import { mutationFields } from "./Mutations.js"
import { queryFields } from "./Query.js"

export const schema = new GraphQLSchema({
  query: objectType<unknown>({ name: "Query", fields: queryFields }),
  mutation: objectType<unknown>({ name: "Mutation", fields: mutationFields })
})
