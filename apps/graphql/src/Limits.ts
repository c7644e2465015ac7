/**
 * The query limits (GraphQL Armor's tokens, depth and aliases, and our cost), every violation refused the same
 * way: a `QueryLimitExceeded` error (`extensions.code: QUERY_LIMIT_EXCEEDED`), no `data`, and
 * HTTP 400 whatever the `Accept` header.
 *
 * Armor's rules throw by default. Tokens are counted while parsing, so a thrown error is a parse
 * error to yoga (400). Depth and aliases are validation rules: a throw escapes graphql's
 * `validate()` as if the server had broken, yoga's validation handling never sees it, and the
 * answer was 200. Here every rule reports to its `ValidationContext` instead, so a violation is
 * an ordinary validation error (400 under `application/graphql-response+json`, and cached).
 *
 * Cost is ours (`costOf`): Armor's multiplies by literal `first` / `last` only, so a list argument
 * (`ordersByNumber(orderNumbers: [×100])`) and every variable were free. It needs the variables,
 * so it is checked just before execution.
 */
import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases"
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth"
import { maxTokensPlugin } from "@escape.tech/graphql-armor-max-tokens"
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  getOperationAST,
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValueNode,
  valueFromASTUntyped
} from "graphql"
import { isAsyncIterable, type Plugin } from "graphql-yoga"
import type { Limits } from "./Config.js"
import { MaxPageSize } from "./schema/Query.js"

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

// ---------------------------------------------------------------------------
// Cost
// ---------------------------------------------------------------------------

/** Armor's weights: a field with a selection costs 2 plus 1.5 × its children, a leaf 1. */
const objectCost = 2
const scalarCost = 1
const depthCostFactor = 1.5

type Variables = Readonly<Record<string, unknown>>

const isRecord = (value: unknown): value is Variables =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * How many times a field's selection is resolved: the largest of its `first` / `last` and the
 * length of any list argument (`ordersByNumber(orderNumbers: [...])`), literal or variable (a
 * variable's default counts when it is not given). At least 1, at most `MaxPageSize`: every page
 * and list the schema takes is refused beyond that by its field (`BAD_USER_INPUT`), so an
 * out-of-range value gets that one answer, not a cost refusal for some values and not others.
 */
const multiplierOf = (
  args: ReadonlyArray<{ readonly name: { readonly value: string }; readonly value: ValueNode }>,
  variables: Variables
): number => {
  let n = 1
  for (const arg of args) {
    const value = valueFromASTUntyped(arg.value, variables)
    if (Array.isArray(value)) n = Math.max(n, value.length)
    else if (
      (arg.name.value === "first" || arg.name.value === "last") &&
      typeof value === "number" &&
      Number.isSafeInteger(value)
    )
      n = Math.max(n, value)
  }
  return Math.min(n, MaxPageSize)
}

/**
 * Armor's cost formula (fragments flattened, introspection free), with list arguments and
 * variables counted: a field under a list argument of n items costs n times. Computed when the
 * variables are known, so `$numbers` counts as much as the same list written out.
 */
export const costOf = (
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: unknown
): number | undefined => {
  const operation = getOperationAST(document, operationName)
  if (operation === null || operation === undefined) return undefined
  const fragments = new Map<string, FragmentDefinitionNode>()
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition)
  }
  const given: Variables = isRecord(rawVariables) ? rawVariables : {}
  const variables: Record<string, unknown> = {}
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value
    variables[name] =
      name in given
        ? given[name]
        : definition.defaultValue === undefined
          ? undefined
          : valueFromASTUntyped(definition.defaultValue)
  }
  const selectionCost = (selectionSet: SelectionSetNode, visiting: ReadonlySet<string>): number => {
    let cost = 0
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith("__")) continue
        cost +=
          selection.selectionSet === undefined
            ? scalarCost
            : (objectCost + depthCostFactor * selectionCost(selection.selectionSet, visiting)) *
              multiplierOf(selection.arguments ?? [], variables)
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        cost += selectionCost(selection.selectionSet, visiting)
      } else {
        const fragment = fragments.get(selection.name.value)
        // Cycles are refused by validation; counted once here all the same.
        if (fragment !== undefined && !visiting.has(fragment.name.value)) {
          cost += selectionCost(fragment.selectionSet, new Set([...visiting, fragment.name.value]))
        }
      }
    }
    return cost
  }
  return selectionCost(operation.selectionSet, new Set())
}

/**
 * The cost limit, checked once the variables are known (after validation, before anything
 * runs): a refusal is a `QueryLimitExceeded` like the other limits, a 400 with no `data`.
 */
const costLimit = (maxCost: number, exposeLimits: boolean): Plugin => ({
  onExecute: ({ args, setResultAndStopExecution }) => {
    const cost = costOf(args.document, args.operationName, args.variableValues)
    if (cost === undefined || cost <= maxCost) return
    const message = exposeLimits ? `Query Cost limit of ${maxCost} exceeded, found ${cost}.` : "Query validation error."
    setResultAndStopExecution({ errors: [new QueryLimitExceeded(message)] })
  }
})

/** The limit plugins; `exposeLimits` says which limit and by how much (not in production). */
export const plugins = (limits: Limits, exposeLimits: boolean): ReadonlyArray<Plugin> => [
  maxTokensPlugin({ n: limits.maxTokens, exposeLimits, ...reporting }),
  maxDepthPlugin({ n: limits.maxDepth, exposeLimits, flattenFragments: true, ...reporting }),
  maxAliasesPlugin({ n: limits.maxAliases, exposeLimits, ...reporting }),
  costLimit(limits.maxCost, exposeLimits),
  refusedIsBadRequest
]
