/**
 * What HL Connect documents for each endpoint — method, path, and the wire schema of every
 * status — read from the one HttpApi definition (`HlConnectApi`) the client and the sandbox
 * derive from, so the contract check has no second list of endpoints, statuses or models.
 */
import { HttpApi, HttpApiSchema } from "@effect/platform"
import { type EndpointName, HlConnectApi } from "@hlconnect/core"
import { SchemaAST } from "effect"

export interface DocumentedEndpoint {
  /** The definition's endpoint name, e.g. `listAssets`. */
  readonly name: string
  readonly method: string
  readonly path: string
  /** `GET /assets/list`: how the report names it. */
  readonly label: string
  /** Documented statuses, each with its wire schema(s): several for a shared status (404 …). */
  readonly statuses: ReadonlyMap<number, ReadonlyArray<SchemaAST.AST>>
}

const membersOf = (ast: SchemaAST.AST): ReadonlyArray<SchemaAST.AST> =>
  SchemaAST.isUnion(ast) ? ast.types.flatMap(membersOf) : SchemaAST.isNeverKeyword(ast) ? [] : [ast]

const add = (statuses: Map<number, Array<SchemaAST.AST>>, status: number, ast: SchemaAST.AST) => {
  const known = statuses.get(status)
  if (known === undefined) statuses.set(status, [ast])
  else if (!known.includes(ast)) known.push(ast)
}

const collect = (): ReadonlyMap<string, DocumentedEndpoint> => {
  const endpoints = new Map<string, DocumentedEndpoint>()
  HttpApi.reflect(HlConnectApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group, middleware, successes }) => {
      const statuses = new Map<number, Array<SchemaAST.AST>>()
      for (const [status, success] of successes) {
        add(statuses, status, success.ast._tag === "Some" ? success.ast.value : SchemaAST.voidKeyword)
      }
      // The group's, the endpoint's and the middleware's errors — not the framework's own
      // HttpApiDecodeError, which HL Connect does not document.
      const errors = [
        ...membersOf(group.errorSchema.ast),
        ...membersOf(endpoint.errorSchema.ast),
        ...[...middleware].flatMap((m) => membersOf(m.failure.ast))
      ]
      for (const error of errors) add(statuses, HttpApiSchema.getStatusErrorAST(error), error)
      endpoints.set(endpoint.name, {
        name: endpoint.name,
        method: endpoint.method,
        path: endpoint.path,
        label: `${endpoint.method} ${endpoint.path}`,
        statuses
      })
    }
  })
  return endpoints
}

/** Every endpoint of HL Connect, by the definition's name. */
export const documented: ReadonlyMap<string, DocumentedEndpoint> = collect()

export const endpoint = (name: EndpointName): DocumentedEndpoint => {
  const found = documented.get(name)
  // Core's endpoint names are the definition's; its own tests hold them together.
  if (found === undefined) throw new Error(`HlConnectApi has no endpoint ${name}`)
  return found
}

/** A success with no body (`201` of register and cancel). */
export const expectsEmptyBody = (ast: SchemaAST.AST): boolean => HttpApiSchema.isVoid(ast)
