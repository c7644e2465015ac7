/**
 * Drift between what an HL Connect server sends and what our models say, found by walking the
 * JSON alongside the models' own Schema AST (the encoded side: the wire), so every field, type and
 * nullability rule comes from `Models.ts` and nowhere else.
 *
 * The walk follows each node's encoded side itself (a Transformation's `from`, a Class's fields)
 * rather than reading `SchemaAST.encodedAST`, which drops refinements (`Int`) and makes a field
 * the spec marks nullable look like one the client merely tolerates `null` in.
 *
 * Nullability: a field whose wire side accepts `null` but whose decoded side does not is an
 * `optional(X)` of `Models.ts` — not nullable in the spec, tolerated by the client — so a `null`
 * there is a warning; a `null` where neither side accepts it is breaking.
 */
import { Schema, SchemaAST } from "effect"

export type Severity = "breaking" | "warning"

export type DriftKind =
  | "unknown-field"
  | "missing-required"
  | "never-seen"
  | "wrong-type"
  | "unexpected-null"
  | "undocumented-status"
  | "non-json-body"
  | "content-type"
  | "unexpected-body"
  | "missing-environment"
  | "environment-changed"

export interface DriftRow {
  readonly severity: Severity
  readonly kind: DriftKind
  /** e.g. `GET /assets/list`. */
  readonly endpoint: string
  readonly status: number | null
  /** e.g. `assets[].instruments[].type`; `""` for the body itself or the response. */
  readonly path: string
  readonly detail: string
  /** How many times it was seen (deduplicated rows). */
  readonly count: number
}

interface Finding {
  readonly severity: Severity
  readonly kind: DriftKind
  readonly path: string
  readonly detail: string
}

/** Where the walk is: the response it reads, and where its findings go. */
interface Walk {
  readonly report: (finding: Finding) => void
  readonly object: (
    path: string,
    model: string,
    fields: ReadonlyArray<{ readonly name: string; readonly optional: boolean }>
  ) => ObjectTally
}

interface ObjectTally {
  count: number
  readonly model: string
  readonly seen: Map<string, number>
  readonly optional: ReadonlySet<string>
}

const fieldPath = (path: string, name: string) => (path === "" ? name : `${path}.${name}`)
const elementPath = (path: string) => `${path}[]`

const jsonType = (value: unknown): string => (value === null ? "null" : Array.isArray(value) ? "array" : typeof value)

const flatten = (ast: SchemaAST.AST): ReadonlyArray<SchemaAST.AST> =>
  SchemaAST.isUnion(ast) ? ast.types.flatMap(flatten) : [ast]

const isNullLiteral = (ast: SchemaAST.AST) => SchemaAST.isLiteral(ast) && ast.literal === null

const acceptsNull = (ast: SchemaAST.AST): boolean => flatten(ast).some(isNullLiteral)

const identifierOf = (ast: SchemaAST.AST): string | undefined => {
  const own = SchemaAST.getIdentifierAnnotation(ast)
  if (own._tag === "Some") return own.value
  if (SchemaAST.isTransformation(ast)) return identifierOf(ast.to) ?? identifierOf(ast.from)
  if (SchemaAST.isDeclaration(ast)) {
    const title = SchemaAST.getTitleAnnotation(ast)
    return title._tag === "Some" ? title.value : undefined
  }
  return undefined
}

/** A struct as the wire has it (`encoded`) and as the client decodes it (`decoded`). */
interface StructNode {
  readonly _tag: "Struct"
  readonly encoded: SchemaAST.TypeLiteral
  readonly decoded: SchemaAST.TypeLiteral
  readonly model: string
}

type Node = StructNode | { readonly _tag: "Other"; readonly ast: SchemaAST.AST }

/**
 * The encoded side of `ast`, one level: a `Schema.Class` is a Transformation to a Declaration, a
 * struct with `optionalWith` keys a TypeLiteralTransformation between two TypeLiterals; other
 * transformations (NumberFromString, Trim …) are read from their wire side.
 */
const resolve = (ast: SchemaAST.AST, model?: string): Node => {
  const name = model ?? identifierOf(ast) ?? "object"
  switch (ast._tag) {
    case "TypeLiteral":
      return { _tag: "Struct", encoded: ast, decoded: ast, model: name }
    case "Transformation":
      if (SchemaAST.isTypeLiteral(ast.from) && SchemaAST.isTypeLiteral(ast.to)) {
        return { _tag: "Struct", encoded: ast.from, decoded: ast.to, model: name }
      }
      return resolve(ast.from, name)
    case "Declaration": {
      // A class's type side: its fields are its only type parameter.
      const [fields] = ast.typeParameters
      return fields === undefined ? { _tag: "Other", ast } : resolve(fields, name)
    }
    case "Suspend":
      return resolve(ast.f(), model)
    default:
      return { _tag: "Other", ast }
  }
}

/** The JSON type a schema expects, to choose among a union's members; undefined = anything. */
const expectedJsonType = (ast: SchemaAST.AST): string | undefined => {
  const node = resolve(ast)
  if (node._tag === "Struct") return "object"
  const inner = node.ast
  switch (inner._tag) {
    case "TupleType":
      return "array"
    case "StringKeyword":
    case "TemplateLiteral":
      return "string"
    case "NumberKeyword":
      return "number"
    case "BooleanKeyword":
      return "boolean"
    case "Literal":
      return inner.literal === null ? "null" : typeof inner.literal
    case "Refinement":
      return expectedJsonType(inner.from)
    default:
      return undefined
  }
}

const fitsJsonType = (ast: SchemaAST.AST, value: unknown) => {
  const expected = expectedJsonType(ast)
  return expected === undefined || expected === jsonType(value)
}

const describe = (ast: SchemaAST.AST): string => {
  const node = resolve(ast)
  if (node._tag === "Struct") return node.model
  const inner = node.ast
  if (SchemaAST.isTupleType(inner)) return "array"
  if (SchemaAST.isUnion(inner)) {
    return flatten(inner)
      .filter((m) => !SchemaAST.isUndefinedKeyword(m))
      .map(describe)
      .join(" | ")
  }
  return String(inner)
}

const isPlainObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const walkStruct = (node: StructNode, value: unknown, path: string, walk: Walk): void => {
  if (!isPlainObject(value)) {
    walk.report({
      severity: "breaking",
      kind: "wrong-type",
      path,
      detail: `expected ${node.model} (object), got ${jsonType(value)}`
    })
    return
  }
  const decodedSide = new Map(node.decoded.propertySignatures.map((p) => [p.name, p.type] as const))
  const fields = node.encoded.propertySignatures.flatMap((p) =>
    typeof p.name === "string" ? [{ name: p.name, optional: p.isOptional, type: p.type }] : []
  )
  const tally = walk.object(path, node.model, fields)
  tally.count++
  for (const field of fields) {
    const at = fieldPath(path, field.name)
    if (!Object.hasOwn(value, field.name)) {
      if (!field.optional) {
        walk.report({
          severity: "breaking",
          kind: "missing-required",
          path: at,
          detail: `required by ${node.model}, absent`
        })
      }
      continue
    }
    tally.seen.set(field.name, (tally.seen.get(field.name) ?? 0) + 1)
    const fieldValue = value[field.name]
    const wireAcceptsNull = acceptsNull(field.type)
    const decodedType = decodedSide.get(field.name)
    const specAcceptsNull = wireAcceptsNull && (decodedType === undefined || acceptsNull(decodedType))
    if (fieldValue === null) {
      if (!specAcceptsNull) {
        walk.report(
          wireAcceptsNull
            ? {
                severity: "warning",
                kind: "unexpected-null",
                path: at,
                detail: "null where the spec does not allow it (the client reads it as absent)"
              }
            : {
                severity: "breaking",
                kind: "unexpected-null",
                path: at,
                detail: `null where ${describe(field.type)} is required`
              }
        )
      }
      continue
    }
    // A null the client merely tolerates is not part of the type the spec gives.
    const specType =
      wireAcceptsNull && !specAcceptsNull
        ? SchemaAST.Union.make(flatten(field.type).filter((m) => !isNullLiteral(m)))
        : field.type
    walkValue(specType, fieldValue, at, walk)
  }
  const known = new Set(fields.map((f) => f.name))
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      walk.report({
        severity: "warning",
        kind: "unknown-field",
        path: fieldPath(path, key),
        detail: `not in ${node.model} (${jsonType(value[key])})`
      })
    }
  }
}

/** Walks `value` along the wire side of `ast`, reporting every difference. */
export const walkValue = (ast: SchemaAST.AST, value: unknown, path: string, walk: Walk): void => {
  const node = resolve(ast)
  if (node._tag === "Struct") {
    walkStruct(node, value, path, walk)
    return
  }
  const inner = node.ast
  const wrongType = (detail = `expected ${describe(inner)}, got ${jsonType(value)}`) =>
    walk.report({ severity: "breaking", kind: "wrong-type", path, detail })
  switch (inner._tag) {
    case "Union": {
      const members = flatten(inner)
      if (value === null) {
        if (!members.some(isNullLiteral)) {
          walk.report({
            severity: "breaking",
            kind: "unexpected-null",
            path,
            detail: `null where ${describe(inner)} is required`
          })
        }
        break
      }
      const candidates = members.filter((m) => !isNullLiteral(m) && !SchemaAST.isUndefinedKeyword(m))
      const fitting = candidates.find((m) => fitsJsonType(m, value))
      if (fitting === undefined) wrongType()
      else walkValue(fitting, value, path, walk)
      break
    }
    case "TupleType": {
      if (!Array.isArray(value)) {
        wrongType()
        break
      }
      value.forEach((element: unknown, index) => {
        const type = inner.elements[index]?.type ?? inner.rest[0]?.type
        if (type === undefined) wrongType(`more elements than the ${inner.elements.length} expected`)
        else walkValue(type, element, elementPath(path), walk)
      })
      break
    }
    case "Refinement":
      if (!fitsJsonType(inner.from, value)) wrongType()
      // A refinement of a wire type (Int …) is checked on the value itself; one of a
      // transformation's decoded side (Trim …) says nothing about the wire.
      else if (!SchemaAST.isTransformation(inner.from) && !Schema.is(Schema.make(inner))(value)) {
        wrongType(`expected ${describe(inner)}, got a ${jsonType(value)} outside it`)
      } else walkValue(inner.from, value, path, walk)
      break
    case "StringKeyword":
    case "NumberKeyword":
    case "BooleanKeyword":
      if (!fitsJsonType(inner, value)) wrongType()
      break
    case "Literal":
      if (value !== inner.literal) wrongType()
      break
    case "UnknownKeyword":
    case "AnyKeyword":
    case "Declaration":
      break
    default:
      if (!Schema.is(Schema.make(inner))(value)) wrongType()
  }
}

/** Collects findings across responses: deduplicated rows with counts, and the never-seen fields. */
export class DriftLedger {
  private readonly rows = new Map<string, { row: DriftRow; count: number }>()
  private readonly objects = new Map<string, { endpoint: string; status: number; path: string; tally: ObjectTally }>()
  private readonly environments = new Set<string>()

  add(endpoint: string, status: number | null, finding: Finding): void {
    const key = JSON.stringify([endpoint, status, finding.kind, finding.path, finding.severity, finding.detail])
    const known = this.rows.get(key)
    if (known === undefined) this.rows.set(key, { row: { ...finding, endpoint, status, count: 1 }, count: 1 })
    else known.count++
  }

  /** Walks one JSON body of `endpoint` answered with `status` against `ast`. */
  walkBody(endpoint: string, status: number, ast: SchemaAST.AST, body: unknown): void {
    walkValue(ast, body, "", {
      report: (finding) => this.add(endpoint, status, finding),
      object: (path, model, fields) => {
        const key = JSON.stringify([endpoint, status, path, model])
        const known = this.objects.get(key)
        if (known !== undefined) return known.tally
        const tally: ObjectTally = {
          count: 0,
          model,
          seen: new Map(),
          optional: new Set(fields.filter((f) => f.optional).map((f) => f.name))
        }
        this.objects.set(key, { endpoint, status, path, tally })
        return tally
      }
    })
  }

  /** An `X-Environment` seen on a success; a second, different value is drift. */
  environment(endpoint: string, status: number, value: string | undefined): void {
    if (value === undefined) {
      this.add(endpoint, status, {
        severity: "warning",
        kind: "missing-environment",
        path: "",
        detail: "a success without the X-Environment header"
      })
      return
    }
    if (this.environments.size > 0 && !this.environments.has(value)) {
      this.add(endpoint, status, {
        severity: "warning",
        kind: "environment-changed",
        path: "",
        detail: `X-Environment ${JSON.stringify(value)} after ${[...this.environments].map((e) => JSON.stringify(e)).join(", ")}`
      })
    }
    this.environments.add(value)
  }

  /** The X-Environment values seen, in order. */
  get environmentsSeen(): ReadonlyArray<string> {
    return [...this.environments]
  }

  /** Every row, the optional fields never seen in any object of their model included. */
  report(): ReadonlyArray<DriftRow> {
    const rows: Array<DriftRow> = [...this.rows.values()].map(({ row, count }) => ({ ...row, count }))
    for (const { endpoint, status, path, tally } of this.objects.values()) {
      for (const name of tally.optional) {
        if (!tally.seen.has(name)) {
          rows.push({
            severity: "warning",
            kind: "never-seen",
            endpoint,
            status,
            path: fieldPath(path, name),
            detail: `optional in ${tally.model}, absent from all ${tally.count} seen`,
            count: tally.count
          })
        }
      }
    }
    const order: Record<Severity, number> = { breaking: 0, warning: 1 }
    return rows.sort(
      (a, b) =>
        order[a.severity] - order[b.severity] ||
        a.endpoint.localeCompare(b.endpoint) ||
        (a.status ?? 0) - (b.status ?? 0) ||
        a.path.localeCompare(b.path) ||
        a.kind.localeCompare(b.kind)
    )
  }
}
