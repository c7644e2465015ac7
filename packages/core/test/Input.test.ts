import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { decodeInput, invalidRequest } from "../src/Input.js"

const Request = Schema.Struct({
  quantity: Schema.Int.pipe(Schema.between(1, 10)),
  parts: Schema.Array(Schema.Struct({ id: Schema.String }))
})

describe("decodeInput: the first problem as { field, message }", () => {
  const decode = decodeInput(Request, (problem) => problem)

  it.effect("names the field by its path and stops at the first problem", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* Effect.flip(decode({ quantity: 0, parts: [{ id: 1 }] })), {
        field: "quantity",
        message: "Expected a number between 1 and 10, actual 0"
      })
      assert.strictEqual((yield* Effect.flip(decode({ quantity: 1, parts: [{ id: 1 }] }))).field, "parts.0.id")
    })
  )

  it.effect("names the input as a whole `input`, ignores excess properties", () =>
    Effect.gen(function* () {
      assert.strictEqual((yield* Effect.flip(decode("nope"))).field, "input")
      assert.deepStrictEqual(yield* decode({ quantity: 2, parts: [], extra: true }), { quantity: 2, parts: [] })
    })
  )

  it.effect("as core's InvalidRequest, the message names the field too", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(decodeInput(Request, invalidRequest)({ quantity: 11, parts: [] }))
      assert.strictEqual(error._tag, "InvalidRequest")
      assert.strictEqual(error.field, "quantity")
      assert.strictEqual(error.message, "quantity: Expected a number between 1 and 10, actual 11")
    })
  )
})
