/**
 * A response body's decoder compiled once from its schema's AST, for the bodies every call reads.
 * Schema's own decoder builds its answer through a parse result per field, an option and an
 * either per property transformation and a few arrays per union member tried: for an order's
 * lines that was the client's largest cost after the socket (~10 µs and a third of its
 * allocations per call, see the conformance bench). This decoder walks the same AST, calling the
 * same refinement filters, property transformations, class constructors and declaration checks,
 * but only on the happy path: at the first value it cannot vouch for it gives up, and Schema's
 * decoder decides (its value or its `ParseError`). Shapes it does not know (index signatures,
 * tagged unions, suspended or effectful schemas, parse options set on the schema) are not
 * compiled at all. `test/CompiledDecoder.test.ts` checks it against Schema's decoder on generated
 * bodies, valid and corrupted.
 */
import { Either, Option, Schema, SchemaAST as AST } from "effect"

/** What a compiled step answers when it cannot vouch for its input: Schema's decoder decides. */
const Undecided: unique symbol = Symbol.for("@hlconnect/core/CompiledDecoder/Undecided")
type Step = (input: unknown) => unknown

const parseOptions: AST.ParseOptions = {}

const isRecord = (input: unknown): input is Readonly<Record<PropertyKey, unknown>> =>
  typeof input === "object" && input !== null && !Array.isArray(input)

const hasOwn = (input: object, key: PropertyKey) => Object.hasOwn(input, key)

/** A parse result that is already there (Schema's synchronous success), or `Undecided`. */
const settled = (result: unknown): unknown =>
  Either.isEither(result) && Either.isRight(result) ? result.right : Undecided

/**
 * Whether a union member may carry a literal tag (a required property or element of literal
 * type): Schema tries such members by tag before the others, so only a union with none is tried
 * in its declared order, as the compiled union is. Unknown kinds count as tagged.
 */
const mayBeTagged = (ast: AST.AST): boolean => {
  switch (ast._tag) {
    case "TypeLiteral":
      return ast.propertySignatures.some((p) => !p.isOptional && AST.isLiteral(AST.encodedAST(p.type)))
    case "TupleType":
      return ast.elements.some((e) => !e.isOptional && AST.isLiteral(AST.encodedAST(e.type)))
    case "Refinement":
    case "Transformation":
      return mayBeTagged(ast.from)
    case "Declaration":
    case "Suspend":
      return true
    default:
      return false
  }
}

const compileStep = (ast: AST.AST): Step | undefined => {
  if (Option.isSome(AST.getParseOptionsAnnotation(ast))) return undefined
  switch (ast._tag) {
    case "StringKeyword":
      return (input) => (typeof input === "string" ? input : Undecided)
    case "NumberKeyword":
      return (input) => (typeof input === "number" ? input : Undecided)
    case "BooleanKeyword":
      return (input) => (typeof input === "boolean" ? input : Undecided)
    case "UndefinedKeyword":
      return (input) => (input === undefined ? input : Undecided)
    case "UnknownKeyword":
    case "AnyKeyword":
      return (input) => input
    case "Literal": {
      const literal = ast.literal
      return (input) => (input === literal ? input : Undecided)
    }
    case "Refinement": {
      const from = compileStep(ast.from)
      if (from === undefined) return undefined
      return (input) => {
        const value = from(input)
        return value !== Undecided && Option.isNone(ast.filter(value, parseOptions, ast)) ? value : Undecided
      }
    }
    case "Union": {
      if (ast.types.some(mayBeTagged)) return undefined
      const members: Array<Step> = []
      for (const member of ast.types) {
        const step = compileStep(member)
        if (step === undefined) return undefined
        members.push(step)
      }
      return (input) => {
        for (const member of members) {
          const value = member(input)
          if (value !== Undecided) return value
        }
        return Undecided
      }
    }
    case "TupleType": {
      const rest = ast.rest[0]
      if (ast.elements.length > 0 || ast.rest.length !== 1 || rest === undefined) return undefined
      const item = compileStep(rest.type)
      if (item === undefined) return undefined
      return (input) => {
        if (!Array.isArray(input)) return Undecided
        const out: Array<unknown> = new Array(input.length)
        for (let i = 0; i < input.length; i++) {
          const value = item(input[i])
          if (value === Undecided) return Undecided
          out[i] = value
        }
        return out
      }
    }
    case "TypeLiteral": {
      if (ast.indexSignatures.length > 0) return undefined
      const properties: Array<readonly [PropertyKey, boolean, Step]> = []
      for (const property of ast.propertySignatures) {
        const step = compileStep(property.type)
        if (step === undefined) return undefined
        properties.push([property.name, property.isOptional, step])
      }
      return (input) => {
        if (!isRecord(input)) return Undecided
        const out: Record<PropertyKey, unknown> = {}
        for (const [name, isOptional, step] of properties) {
          // As Schema does: an absent optional key stays absent; an absent required one is `undefined`.
          if (isOptional && !hasOwn(input, name)) continue
          const value = step(input[name])
          if (value === Undecided) return Undecided
          out[name] = value
        }
        return out
      }
    }
    case "Declaration": {
      const parse = ast.decodeUnknown(...ast.typeParameters)
      return (input) => settled(parse(input, parseOptions, ast))
    }
    case "Transformation": {
      const from = compileStep(ast.from)
      const to = compileStep(ast.to)
      if (from === undefined || to === undefined) return undefined
      const transformation = ast.transformation
      switch (transformation._tag) {
        case "ComposeTransformation":
          return (input) => {
            const value = from(input)
            return value === Undecided ? Undecided : to(value)
          }
        case "FinalTransformation":
          return (input) => {
            const value = from(input)
            if (value === Undecided) return Undecided
            const transformed = settled(transformation.decode(value, parseOptions, ast, input))
            return transformed === Undecided ? Undecided : to(transformed)
          }
        case "TypeLiteralTransformation": {
          const renamed = new Set<PropertyKey>()
          for (const property of transformation.propertySignatureTransformations) renamed.add(property.from)
          return (input) => {
            const value = from(input)
            if (!isRecord(value)) return Undecided
            // Schema moves each transformed key in place; a fresh object reads the same to `to`.
            const out: Record<PropertyKey, unknown> = {}
            for (const key of Reflect.ownKeys(value)) if (!renamed.has(key)) out[key] = value[key]
            for (const property of transformation.propertySignatureTransformations) {
              const moved = property.decode(
                hasOwn(value, property.from) ? Option.some(value[property.from]) : Option.none()
              )
              if (Option.isSome(moved)) out[property.to] = moved.value
            }
            return to(out)
          }
        }
      }
      return undefined
    }
    default:
      return undefined
  }
}

/**
 * The compiled decoder of `schema`, or `undefined` when its shape is not one this module knows.
 * It answers `Either.right` with exactly what `Schema.decodeUnknownEither(schema)` would, or
 * `undefined` when Schema's decoder must decide. The answer's type is checked by `Schema.is` on
 * the schema's type side (for classes, an `instanceof`), so nothing here is taken on trust.
 */
export const compileDecoder = <A, I>(
  schema: Schema.Schema<A, I, never>
): ((input: unknown) => Either.Either<A, never> | undefined) | undefined => {
  const step = compileStep(schema.ast)
  if (step === undefined) return undefined
  const isDecoded = Schema.is(Schema.typeSchema(schema))
  return (input) => {
    const value = step(input)
    return value !== Undecided && isDecoded(value) ? Either.right(value) : undefined
  }
}
