import { fromWeb, HttpServerRequest } from "@effect/platform/HttpServerRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { BearerAuth } from "../src/index.js"

describe("BearerAuth", () => {
  const check = BearerAuth.make([Redacted.make("first-token-0123456789"), Redacted.make("second")])

  it.each([
    "Bearer first-token-0123456789",
    "bearer first-token-0123456789",
    "BEARER second",
    "Bearer  second ",
    "  Bearer\tsecond\t",
    "bEaReR \t second"
  ])("accepts %j (scheme case-insensitive, blanks tolerated)", (header) => {
    expect(check.authorize(header)).toBe(true)
  })

  it.each([
    undefined,
    "",
    "Bearer",
    "Bearer ",
    "second",
    "Bearersecond",
    "Basic second",
    "Bearer second extra",
    "Bearer Second",
    "Bearer secon",
    "Bearer second2",
    "Bearer first-token-0123456789-and-more",
    "Token second"
  ])("refuses %j", (header) => {
    expect(check.authorize(header)).toBe(false)
  })

  it("refuses everything when no token is accepted", () => {
    const none = BearerAuth.make([])
    expect(none.authorize("Bearer anything")).toBe(false)
    expect(none.authorize("Bearer ")).toBe(false)
  })

  it("parses the token out of the header", () => {
    expect(BearerAuth.parse(" bearer  abc.def ")).toEqual(Option.some("abc.def"))
    expect(BearerAuth.parse("Bearer a b")).toEqual(Option.none())
    expect(BearerAuth.parse(undefined)).toEqual(Option.none())
  })

  it.effect("authorizeRequest reads the request's own header by the same rule (not the platform's sliced value)", () =>
    Effect.gen(function* () {
      const outcome = (authorization: string | undefined) =>
        BearerAuth.authorizeRequest(check, () => "refused" as const).pipe(
          Effect.either,
          Effect.provideService(
            HttpServerRequest,
            fromWeb(
              new Request("http://relay.test/admin", authorization === undefined ? {} : { headers: { authorization } })
            )
          )
        )
      expect(yield* outcome("bearer  second ")).toEqual(Either.right(undefined))
      expect(yield* outcome("BEARER\tfirst-token-0123456789")).toEqual(Either.right(undefined))
      for (const refused of [undefined, "Bearer nope", "Basic second", "Bearer second x", "second"]) {
        expect(yield* outcome(refused)).toEqual(Either.left("refused"))
      }
    })
  )
})
