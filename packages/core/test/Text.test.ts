/**
 * The one rule for caller text (`Text.ts`) on its own: well-formed, no control characters, one
 * line where it must be, NFC-normalised and trimmed, bounded; each problem explained where it is.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either, ParseResult, Schema } from "effect"
import { PurchaseRegisterRequest } from "../src/Models.js"
import { CustomerName, EmailAddress, MultiLineText, SingleLineText, ValidationTokenText } from "../src/Text.js"

/** The decoded value, or the first problem's message. */
const decode =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (input: unknown): A | string => {
    const result = Schema.decodeUnknownEither(schema, { errors: "first" })(input)
    if (Either.isRight(result)) return result.right
    const [issue] = ParseResult.ArrayFormatter.formatErrorSync(result.left)
    return `problem: ${issue?.path.map(String).join(".") ?? ""}${issue?.path.length ? ": " : ""}${issue?.message ?? ""}`
  }

const name = decode(CustomerName)

describe("Text: the rule for caller-supplied text", () => {
  it("refuses lone surrogates, high or low, and keeps proper pairs", () => {
    assert.strictEqual(name("Ann \ud83c"), "problem: contains a lone surrogate at index 4")
    assert.strictEqual(name("Ann \udf3b x"), "problem: contains a lone surrogate at index 4")
    assert.strictEqual(name("\udf3b\ud83c"), "problem: contains a lone surrogate at index 0")
    assert.strictEqual(name("Ann \ud83c\udf3b"), "Ann \ud83c\udf3b")
  })

  it("refuses control characters: C0, DEL, C1", () => {
    assert.strictEqual(name("a\u0000b"), "problem: contains the control character U+0000 at index 1")
    assert.strictEqual(name("ab\u001b[31m"), "problem: contains the control character U+001B at index 2")
    assert.strictEqual(name("a\u007f"), "problem: contains the control character U+007F at index 1")
    assert.strictEqual(name("a\u009b"), "problem: contains the control character U+009B at index 1")
    assert.strictEqual(name("a\tb"), "problem: contains the control character U+0009 at index 1")
  })

  it("single-line text has no line break of any kind; multi-line text may", () => {
    assert.strictEqual(
      name("Ann\u0085Lee"),
      "problem: contains the line break U+0085 at index 3; it must be a single line"
    )
    assert.strictEqual(
      name("Ann\u2028Lee"),
      "problem: contains the line break U+2028 at index 3; it must be a single line"
    )
    assert.strictEqual(name("Ann\nLee"), "problem: contains the line break U+000A at index 3; it must be a single line")
    assert.strictEqual(
      name("Ann Lee\r\n"),
      "problem: contains the line break U+000D at index 7; it must be a single line"
    )
    const note = decode(MultiLineText({ identifier: "Note", maxLength: 100 }))
    assert.strictEqual(note("first\r\n\tsecond\u2028third"), "first\r\n\tsecond\u2028third")
    assert.strictEqual(note("first\u0085second"), "problem: contains the control character U+0085 at index 5")
    assert.strictEqual(note("a\u0000"), "problem: contains the control character U+0000 at index 1")
  })

  it("decodes to the NFC spelling, trimmed: two spellings of Zoë are one", () => {
    assert.strictEqual(name("Zoe\u0308"), "Zo\u00eb")
    assert.strictEqual(name("  Zo\u00eb\u00a0"), "Zo\u00eb")
    assert.strictEqual(decode(EmailAddress)("zoe\u0308@example.com"), "zo\u00eb@example.com")
  })

  it("bounds the length after normalisation, and refuses the empty", () => {
    assert.strictEqual(name("x".repeat(200)), "x".repeat(200))
    assert.strictEqual(name("x".repeat(201)), "problem: must be at most 200 characters, got 201")
    // 201 code units as written, 200 once composed.
    assert.strictEqual(name(`${"x".repeat(198)}e\u0308`), `${"x".repeat(198)}\u00eb`)
    assert.strictEqual(name("   "), "problem: must not be empty")
    assert.strictEqual(
      decode(SingleLineText({ identifier: "Code", maxLength: 8, minLength: 3 }))("ab"),
      "problem: must be at least 3 characters, got 2"
    )
    assert.strictEqual(
      decode(ValidationTokenText)("t".repeat(4097)),
      "problem: must be at most 4096 characters, got 4097"
    )
  })

  it("email addresses follow the rule and look like one", () => {
    assert.strictEqual(decode(EmailAddress)("fanny"), "problem: must be an email address")
    assert.strictEqual(decode(EmailAddress)("a\u0000@b"), "problem: contains the control character U+0000 at index 1")
  })

  it("the decoded side states the rule too: a value built without decoding is checked when encoded", () => {
    assert.isTrue(Either.isRight(Schema.encodeEither(CustomerName)("Zo\u00eb")))
    assert.isTrue(Either.isLeft(Schema.encodeEither(CustomerName)("Ann \ud83c")))
    assert.isTrue(Either.isLeft(Schema.encodeEither(CustomerName)("Zoe\u0308")))
  })

  it("PurchaseRegisterRequest: customer and token follow the rule, naming the field", () => {
    const request = {
      token: "t",
      order_number: 1,
      order_line_id: 1,
      line_item_price: 1,
      unit_price: 1,
      customer: "Ann"
    }
    const register = decode(PurchaseRegisterRequest)
    assert.strictEqual(
      register({ ...request, customer: "Ann \ud83c" }),
      "problem: customer: contains a lone surrogate at index 4"
    )
    assert.strictEqual(
      register({ ...request, token: "t\u0000" }),
      "problem: token: contains the control character U+0000 at index 1"
    )
    const zoe = register({ ...request, customer: "Zoe\u0308" })
    assert.strictEqual(typeof zoe === "string" ? zoe : zoe.customer, "Zo\u00eb")
  })
})
