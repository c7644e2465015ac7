/**
 * GraphQL Armor's query limits (tokens, depth, aliases, cost), every violation refused the same
 * way: a `QueryLimitExceeded` error (`extensions.code: QUERY_LIMIT_EXCEEDED`), no `data`, and
 * HTTP 400 whatever the `Accept` header.
 *
 * Armor's rules throw by default. Tokens are counted while parsing, so a thrown error is a parse
 * error to yoga (400). Depth, aliases and cost are validation rules: a throw escapes graphql's
 * `validate()` as if the server had broken, yoga's validation handling never sees it, and the
 * answer was 200. Here every rule reports to its `ValidationContext` instead, so a violation is
 * an ordinary validation error (400 under `application/graphql-response+json`, and cached).
 */
import { costLimitPlugin } from "@escape.tech/graphql-armor-cost-limit"
import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases"
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth"
import { maxTokensPlugin } from "@escape.tech/graphql-armor-max-tokens"
import { GraphQLError, type ValidationContext } from "graphql"
import { isAsyncIterable, type Plugin } from "graphql-yoga"
import type { Limits } from "./Config.js"

export const code = "QUERY_LIMIT_EXCEEDED"

/** A document refused by one of the limits, before anything ran. */
export class QueryLimitExceeded extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code } })
  }
}

/** Armor words every refusal as a syntax error; it is not one. */
const withoutSyntaxErrorPrefix = (message: string): string => message.replace(/^Syntax Error: /, "")

/** Armor's rejection callback: report in validation, throw while parsing (no context yet). */
const refuse = (context: ValidationContext | null, error: GraphQLError): void => {
  const refused = new QueryLimitExceeded(withoutSyntaxErrorPrefix(error.message))
  if (context === null) throw refused
  context.reportError(refused)
}

const reporting = { propagateOnRejection: false, onReject: [refuse] }

/**
 * 400 under `application/json` and `*` too. Yoga follows GraphQL over HTTP's legacy rule there
 * (200 for parse and validation errors); a refused document is the caller's error, and proxies,
 * metrics and clients should see it as one (README, "Limits").
 */
const refusedIsBadRequest: Plugin = {
  onResultProcess: ({ result, setResult }) => {
    if (isAsyncIterable(result) || Array.isArray(result)) return
    if (!(result.errors ?? []).some((error) => error instanceof QueryLimitExceeded)) return
    setResult({ ...result, extensions: { ...result.extensions, http: { status: 400 } } })
  }
}

/** The limit plugins; `exposeLimits` says which limit and by how much (not in production). */
export const plugins = (limits: Limits, exposeLimits: boolean): ReadonlyArray<Plugin> => [
  maxTokensPlugin({ n: limits.maxTokens, exposeLimits, ...reporting }),
  maxDepthPlugin({ n: limits.maxDepth, exposeLimits, flattenFragments: true, ...reporting }),
  maxAliasesPlugin({ n: limits.maxAliases, exposeLimits, ...reporting }),
  costLimitPlugin({ maxCost: limits.maxCost, exposeLimits, ...reporting }),
  refusedIsBadRequest
]
