/**
 * The one rule for free text a caller hands us that is stored or sent to HL Connect (a customer's
 * name, which HL Connect may print on the sheet music; an email address; a validation token). A
 * JavaScript string may hold what no store or printer can keep: a lone UTF-16 surrogate is
 * stored as U+FFFD (so an identical retry no longer matches what was stored), a NUL cannot be
 * stored by PostgreSQL at all, and control characters end up on paper. So such text must be:
 *
 * - well-formed Unicode: no lone surrogate (what `String.prototype.isWellFormed` checks);
 * - free of control characters: C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F);
 * - of its kind: `SingleLineText` (names, addresses, tokens: every field we have today) allows no
 *   line break at all — no LF, CR, VT, FF, NEL (U+0085), LINE SEPARATOR (U+2028) or PARAGRAPH
 *   SEPARATOR (U+2029), and no TAB; `MultiLineText` (notes meant to span lines) allows TAB, LF,
 *   CR, U+2028 and U+2029, and refuses every other control character;
 * - NFC-normalised and trimmed, by the decode itself: the value stored, sent and compared is the
 *   canonical one, so "Zoe\u0308" and "Zoë" are one customer;
 * - bounded: between `minLength` (default 1: not empty) and `maxLength` characters, counted in
 *   UTF-16 code units after normalisation (never more than the code points, so a limit HL Connect
 *   counts either way holds).
 *
 * Problems are reported where they are in the caller's text: "contains a lone surrogate at index
 * 4", "contains the control character U+0000 at index 1". The decoded (`Type`) side states the
 * same rule, so a value built without decoding is checked too when it is encoded.
 */
import { ParseResult, Schema } from "effect"

/** `single-line`: no line breaks or tabs; `multi-line`: TAB, CR, LF, U+2028 and U+2029 allowed. */
export type TextKind = "single-line" | "multi-line"

const lineBreaks: ReadonlySet<number> = new Set([0x0a, 0x0b, 0x0c, 0x0d, 0x85, 0x2028, 0x2029])
const multiLineAllowed: ReadonlySet<number> = new Set([0x09, 0x0a, 0x0d, 0x2028, 0x2029])

const codePoint = (unit: number) => `U+${unit.toString(16).toUpperCase().padStart(4, "0")}`

/**
 * The first way `text` breaks the rule for `kind` (ill-formed UTF-16, a control character, a
 * line break in single-line text), or undefined when it has none. Length and normalisation are
 * the schemas' part.
 */
export const textProblem = (text: string, kind: TextKind): string | undefined => {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit >= 0x20 && unit < 0x7f) continue
    if (unit >= 0xd800 && unit <= 0xdfff) {
      const next = text.charCodeAt(i + 1)
      if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
      return `contains a lone surrogate at index ${i}`
    }
    const control = unit < 0x20 || (unit >= 0x7f && unit <= 0x9f)
    if (!control && unit !== 0x2028 && unit !== 0x2029) continue
    if (kind === "multi-line" && multiLineAllowed.has(unit)) continue
    if (kind === "single-line" && lineBreaks.has(unit))
      return `contains the line break ${codePoint(unit)} at index ${i}; it must be a single line`
    return `contains the control character ${codePoint(unit)} at index ${i}`
  }
  return undefined
}

/** The canonical spelling of text that follows the rule: NFC, without surrounding whitespace. */
export const canonicalText = (text: string): string => text.normalize("NFC").trim()

export interface TextOptions {
  /** Names the field in schema errors and generated docs, e.g. `CustomerName`. */
  readonly identifier: string
  /** Most characters (UTF-16 code units) after normalisation. */
  readonly maxLength: number
  /** Fewest characters after normalisation; default 1 (not empty). */
  readonly minLength?: number
  readonly description?: string
}

const lengthProblem = (text: string, minLength: number, maxLength: number): string | undefined => {
  if (text.length < minLength)
    return minLength === 1 ? "must not be empty" : `must be at least ${minLength} characters, got ${text.length}`
  if (text.length > maxLength) return `must be at most ${maxLength} characters, got ${text.length}`
  return undefined
}

const makeText = (kind: TextKind) => (options: TextOptions) => {
  const { identifier, maxLength } = options
  const minLength = options.minLength ?? 1
  const description =
    options.description ??
    `${kind} text: well-formed, no control characters, NFC, trimmed, ${minLength}–${maxLength} characters`
  // The decoded value: the rule holds and the spelling is already canonical.
  const Canonical = Schema.String.pipe(
    Schema.filter(
      (text) =>
        textProblem(text, kind) ??
        lengthProblem(text, minLength, maxLength) ??
        (text === canonicalText(text) || "must be NFC-normalised without surrounding whitespace")
    )
  )
  return Schema.transformOrFail(Schema.String, Canonical, {
    strict: true,
    decode: (raw, _, ast) => {
      const problem = textProblem(raw, kind)
      return problem === undefined
        ? ParseResult.succeed(canonicalText(raw))
        : ParseResult.fail(new ParseResult.Type(ast, raw, problem))
    },
    encode: ParseResult.succeed
  }).annotations({ identifier, description })
}

/** Text on one line (names, addresses, tokens): see the module comment for the rule. */
export const SingleLineText = makeText("single-line")

/** Text that may span lines (TAB, CR, LF, U+2028, U+2029 allowed): see the module comment. */
export const MultiLineText = makeText("multi-line")

/** The longest of each field below, for code that must agree with them (the relay's pre-check). */
export const TextLimits = { customerName: 200, emailAddress: 320, validationToken: 4096 } as const

/** The customer's name: HL Connect takes at most 200 characters and may print it on the asset. */
export const CustomerName = SingleLineText({ identifier: "CustomerName", maxLength: TextLimits.customerName })

/** A customer's email address (at most 320 characters, `local@domain`). */
export const EmailAddress = SingleLineText({ identifier: "EmailAddressText", maxLength: TextLimits.emailAddress }).pipe(
  Schema.filter((email) => /^[^\s@]+@[^\s@]+$/.test(email) || "must be an email address"),
  Schema.annotations({ identifier: "EmailAddress" })
)

/** A validation token as HL Connect issued it and `registerPurchase` sends it back (a credential: redact it once decoded). */
export const ValidationTokenText = SingleLineText({
  identifier: "ValidationTokenText",
  maxLength: TextLimits.validationToken
})
