/**
 * `@hlconnect/graphql`: the GraphQL facade internal services query. `layer(settings)` serves it
 * on a provided server (for an all-in-one launcher); `GraphqlLive` is the app wired from the
 * environment; `schema` is the executable schema.
 */
export * as Loader from "./Loader.js"
export * as Runner from "./Runner.js"
export * from "./Config.js"
export * as Drift from "./Drift.js"
export * from "./Errors.js"
export { GraphqlLive, defaultPort } from "./Live.js"
export * from "./BatchSources.js"
export { layer, makeRouter } from "./Server.js"
export { schema } from "./schema/index.js"
export { graphqlPath } from "./Yoga.js"
