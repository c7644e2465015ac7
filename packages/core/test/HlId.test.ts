import { assert, describe, it } from "@effect/vitest"
import { Either, ParseResult, Schema } from "effect"
import { HlIdNumberFromText, HlIdText, HlIdTextFromJson, hlIdOf, hlIdOrReason, parseHlId } from "../src/HlId.js"

const refusedText = [
  "",
  "0",
  "007",
  "-1",
  "+1",
  " 1",
  "1 ",
  "1.0",
  "1e3",
  "1' OR '1'='1",
  "\u0661\u0662\u0663",
  "\uff11",
  "9007199254740992",
  "12345678901234567"
]

const problem = <A, I>(schema: Schema.Schema<A, I>, input: unknown): string =>
  Either.match(Schema.decodeUnknownEither(schema)(input), {
    onLeft: (e) => ParseResult.ArrayFormatter.formatErrorSync(e)[0]?.message ?? "",
    onRight: () => "accepted"
  })

describe("HL Connect ids", () => {
  it("reads an id from text: ASCII digits, no leading zero, a safe integer; nothing else", () => {
    assert.deepStrictEqual(["1", "12345", "9007199254740991"].map(parseHlId), [1, 12345, 9007199254740991])
    assert.deepStrictEqual(
      refusedText.map(parseHlId),
      refusedText.map(() => undefined)
    )
  })

  it("reads an id as JSON carries it: a safe positive integer, or its text", () => {
    assert.deepStrictEqual([1, 12345, "77", Number.MAX_SAFE_INTEGER].map(hlIdOf), [
      1,
      12345,
      77,
      Number.MAX_SAFE_INTEGER
    ])
    const refused = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, ...refusedText]
    assert.deepStrictEqual(
      refused.map(hlIdOf),
      refused.map(() => undefined)
    )
  })

  it("says why a value is none, naming it", () => {
    assert.strictEqual(hlIdOrReason("order number", "42"), 42)
    assert.strictEqual(
      hlIdOrReason("order number", "007"),
      'order number "007" is not an HL Connect id (an integer ≥ 1)'
    )
  })

  it("decodes ids as text, as a number, and from JSON with one rule and one message", () => {
    assert.strictEqual(Schema.decodeUnknownSync(HlIdText)("12"), "12")
    assert.strictEqual(problem(HlIdText, "first"), '"first" is not an HL Connect id (an integer ≥ 1)')
    assert.strictEqual(Schema.decodeUnknownSync(HlIdNumberFromText)("12"), 12)
    assert.strictEqual(problem(HlIdNumberFromText, "0"), '"0" is not an HL Connect id (an integer ≥ 1)')
    assert.strictEqual(Schema.decodeUnknownSync(HlIdTextFromJson)(12), "12")
    assert.strictEqual(Schema.decodeUnknownSync(HlIdTextFromJson)(" 12 "), "12")
    assert.strictEqual(problem(HlIdTextFromJson, 1.5), "1.5 is not an HL Connect id (an integer ≥ 1)")
    assert.strictEqual(problem(HlIdTextFromJson, "007"), '"007" is not an HL Connect id (an integer ≥ 1)')
    for (const text of refusedText.filter((t) => t.trim() !== "1")) {
      assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(HlIdTextFromJson)(text)), text)
      assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(HlIdText)(text)), text)
    }
  })
})
