import { HttpApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck, Option, Schema } from "effect"
import { HlConnectApi } from "../src/Api.js"
import { compileDecoder } from "../src/CompiledDecoder.js"
import {
  AssetsListQuery,
  OrderItem,
  OrderItems,
  OrderLineQuery,
  OrderQuery,
  PurchaseRegisterRequest,
  PurchaseValidateBeforePaymentRequest
} from "../src/Models.js"

/** Every body the definition declares, success or error, by endpoint and status. */
const declaredBodies = (): ReadonlyArray<readonly [string, Schema.Schema<unknown, unknown>]> => {
  const bodies: Array<readonly [string, Schema.Schema<unknown, unknown>]> = []
  HttpApi.reflect(HlConnectApi, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint, successes, errors }) => {
      for (const [kind, members] of [
        ["success", successes],
        ["error", errors]
      ] as const) {
        members.forEach(({ ast }, status) => {
          if (Option.isSome(ast)) bodies.push([`${endpoint.name} ${status} ${kind}`, Schema.make(ast.value)])
        })
      }
    }
  })
  return bodies
}

/** What callers hand the client, decoded by `Input` on every call. */
const inputs: ReadonlyArray<readonly [string, Schema.Schema<unknown, unknown>]> = [
  ["validatePurchase input", Schema.make(PurchaseValidateBeforePaymentRequest.ast)],
  ["registerPurchase input", Schema.make(PurchaseRegisterRequest.ast)],
  ["order query", Schema.make(Schema.typeSchema(OrderQuery).ast)],
  ["order line query", Schema.make(Schema.typeSchema(OrderLineQuery).ast)],
  ["assets query", Schema.make(Schema.typeSchema(AssetsListQuery).ast)]
]

/**
 * Same value, same classes, same fields in the same order, all the way down (enumerable fields:
 * an error's own `stack` says where it was made, not what it is).
 */
const sameValue = (a: unknown, b: unknown): boolean => {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return Object.is(a, b)
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  const keysA = Object.keys(a)
  const keysB = Object.keys(b)
  return (
    keysA.length === keysB.length &&
    keysA.every((key, i) => key === keysB[i] && sameValue(Reflect.get(a, key), Reflect.get(b, key)))
  )
}

type Json = FastCheck.JsonValue

/** `value` with the `pick`-th slot (an array item or an object key) replaced by `by`, or removed. */
const corrupt = (value: unknown, pick: number, by: Option.Option<Json>): unknown => {
  const slots: Array<readonly [Array<unknown> | Record<string, unknown>, string | number]> = []
  const copy = (node: unknown): unknown => {
    if (Array.isArray(node)) {
      const out: Array<unknown> = node.map(copy)
      for (let i = 0; i < out.length; i++) slots.push([out, i])
      return out
    }
    if (typeof node === "object" && node !== null) {
      const out: Record<string, unknown> = {}
      for (const [key, child] of Object.entries(node)) out[key] = copy(child)
      for (const key of Object.keys(out)) slots.push([out, key])
      return out
    }
    return node
  }
  const root = copy(value)
  const slot = slots[pick % Math.max(1, slots.length)]
  if (slot === undefined) return Option.getOrElse(by, () => root)
  const [container, key] = slot
  if (Array.isArray(container) && typeof key === "number") {
    if (Option.isSome(by)) container[key] = by.value
    else container.splice(key, 1)
  } else if (!Array.isArray(container) && typeof key === "string") {
    if (Option.isSome(by)) container[key] = by.value
    else delete container[key]
  }
  return root
}

const replacement: FastCheck.Arbitrary<Option.Option<Json>> = FastCheck.option<Json, undefined>(
  FastCheck.oneof(
    FastCheck.constant(null),
    FastCheck.constant(1.5),
    FastCheck.constant(-1),
    FastCheck.constant("x"),
    FastCheck.constant("\ud800"),
    FastCheck.jsonValue()
  ),
  { nil: undefined }
).map(Option.fromNullable)

describe("CompiledDecoder", () => {
  const bodies = declaredBodies()

  it("compiles every body HL Connect answers with but the 400s, which Schema decodes", () => {
    assert.isAbove(bodies.length, 10)
    for (const [name, schema] of bodies) {
      // A 400 is HL Connect's error or the platform's `HttpApiDecodeError`: a union tried by `_tag`.
      if (name.endsWith(" 400 error")) assert.isUndefined(compileDecoder(schema), name)
      else assert.isDefined(compileDecoder(schema), name)
    }
  })

  it("compiles every input a client method decodes", () => {
    for (const [name, schema] of inputs) assert.isDefined(compileDecoder(schema), name)
  })

  for (const [name, schema] of [...bodies, ...inputs]) {
    const compiled = compileDecoder(schema)
    if (compiled === undefined) continue
    const decode = Schema.decodeUnknownEither(schema)
    const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value))
    // Valid bodies: values of the type, encoded as HL Connect would send them.
    const encode = Schema.encodeSync(schema)
    const valid = Arbitrary.make(schema).map((value) => json(encode(value)))
    // Bodies of the wire's shape, not all valid (refinements and transformations not applied), nulls included.
    const wire = FastCheck.oneof(valid, Arbitrary.make(Schema.encodedSchema(schema)).map(json))

    it(`${name}: decides every valid body exactly as Schema does`, () => {
      FastCheck.assert(
        FastCheck.property(valid, (input) => {
          const expected = decode(input)
          const actual = compiled(input)
          assert.isTrue(Either.isRight(expected))
          assert.isDefined(actual, "a valid body is decided by the compiled decoder")
          if (actual !== undefined && Either.isRight(expected))
            assert.isTrue(sameValue(Either.getOrThrow(actual), expected.right))
        }),
        { numRuns: 150 }
      )
    })

    it(`${name}: on a corrupted body, never answers what Schema refuses`, () => {
      FastCheck.assert(
        FastCheck.property(wire, FastCheck.nat(), replacement, (valid, pick, by) => {
          const input = corrupt(valid, pick, by)
          const expected = decode(input)
          const actual = compiled(input)
          if (Either.isLeft(expected)) assert.isUndefined(actual, "Schema refuses it: Schema's error stands")
          else if (actual !== undefined) assert.isTrue(sameValue(Either.getOrThrow(actual), expected.right))
        }),
        { numRuns: 300 }
      )
    })
  }

  it("reads null in an optional field as absent, and keeps null where the spec allows it", () => {
    const decoded = compileDecoder(OrderItems)?.([{ order_id: 7, customer: null, download_url: null }])
    assert.isDefined(decoded)
    const item = decoded === undefined ? undefined : Either.getOrThrow(decoded)[0]
    assert.instanceOf(item, OrderItem)
    assert.deepStrictEqual(item === undefined ? [] : Reflect.ownKeys(item), ["order_id", "download_url"])
    assert.isNull(item?.download_url)
  })

  it("leaves to Schema what it does not vouch for, and does not compile what it does not know", () => {
    const decode = compileDecoder(OrderItems)
    assert.isUndefined(decode?.([{ order_id: 1.5 }]), "not an integer")
    assert.isUndefined(decode?.({}), "not an array")
    assert.isUndefined(compileDecoder(Schema.Record({ key: Schema.String, value: Schema.Number })))
    assert.isUndefined(
      compileDecoder(
        Schema.Union(Schema.TaggedStruct("A", { a: Schema.Number }), Schema.TaggedStruct("B", { b: Schema.Number }))
      ),
      "a tagged union tries its members by tag, not in order"
    )
    assert.isUndefined(
      compileDecoder(Schema.Struct({ a: Schema.Number }).annotations({ parseOptions: { onExcessProperty: "error" } }))
    )
  })
})
