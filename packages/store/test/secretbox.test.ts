/**
 * The key ring's text form (RELAY_SECRETS_KEY): what is accepted, and that a refusal names the
 * problem without echoing the key.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import * as SecretBox from "../src/SecretBox.js"

const parse = (raw: string) => SecretBox.parseKeyRing(Redacted.make(raw))
const key = (bytes = 32) => `rsk_${randomBytes(bytes).toString("base64")}`

describe("SecretBox key ring", () => {
  it("reads one key or several (current first), each with a stable id", () => {
    const a = key()
    const b = key()
    const ring = Either.getOrThrow(parse(` ${a} , ${b} `))
    assert.strictEqual(ring.length, 2)
    assert.match(ring[0].id, /^[0-9a-f]{8}$/)
    assert.strictEqual(ring[0].id, Either.getOrThrow(parse(a))[0].id)
    assert.strictEqual(ring[1]?.id, Either.getOrThrow(parse(b))[0].id)
    assert.notInclude(String(ring[0].key), a.slice(4, 20))
    assert.match(Redacted.value(SecretBox.generateKey()), /^rsk_[A-Za-z0-9+/]{43}=$/)
  })

  it("refuses what is not a list of rsk_ keys of 32 bytes, naming the key, never showing it", () => {
    const good = key()
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["", "at least one rsk_"],
      [" , ", "at least one rsk_"],
      [randomBytes(32).toString("base64"), "must start with rsk_"],
      [key(16), "must be 32 bytes"],
      [`${good},rsk_not*base64!`, "key #2 is not valid base64"],
      [`${good},${good}`, "key #2 repeats key #1"]
    ]
    for (const [raw, expected] of cases) {
      const result = parse(raw)
      assert.isTrue(Either.isLeft(result), raw)
      if (Either.isLeft(result)) {
        assert.include(result.left, expected)
        if (raw.length > 8) assert.notInclude(result.left, raw.slice(4, 24))
      }
    }
  })

  it.effect("seals and opens; the row id is bound in (another row's id does not open it)", () =>
    Effect.gen(function* () {
      const box = SecretBox.make(Either.getOrThrow(parse(key())))
      const sealed = yield* box.seal(Redacted.make("whsec_plain"), "row-1")
      assert.strictEqual(box.keyIdOf(sealed), box.currentKeyId)
      assert.strictEqual(Redacted.value(yield* box.open(sealed, "row-1")), "whsec_plain")
      const moved = yield* Effect.flip(box.open(sealed, "row-2"))
      assert.strictEqual(moved.reason, "authentication-failed")
      const garbage = yield* Effect.flip(box.open("whsec_plain", "row-1"))
      assert.strictEqual(garbage.reason, "malformed")
    })
  )
})
