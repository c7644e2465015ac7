/**
 * Subscriber signing secrets at rest, on a real SQLite file: what the admin API is given never
 * reaches the database file or its WAL in the clear, deliveries are still signed with it, a new
 * first RELAY_SECRETS_KEY key re-encrypts the rows at start-up, and a key list that cannot open a
 * row stops the start with a message naming the variable and the key id.
 */
import { SecretBox, Store } from "@hlconnect/store"
import { Either, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Webhook } from "standardwebhooks"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { admin, appendOutbound, eventually, headersOf, startReceiver, startRelay } from "./support.js"

const ring = (...keys: ReadonlyArray<string>) =>
  Either.getOrThrow(SecretBox.parseKeyRing(Redacted.make(keys.join(","))))
const newKey = () => Redacted.value(SecretBox.generateKey())

describe("subscriber signing secrets at rest (SQLite file)", () => {
  let dir = ""
  let filename = ""
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "relay-at-rest-"))
    filename = join(dir, "hlconnect.db")
    receiver = await startReceiver()
  })
  afterAll(async () => {
    await receiver?.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** Every byte of the database file and its WAL, as they are on disk right now. */
  const onDisk = () =>
    [filename, `${filename}-wal`]
      .filter(existsSync)
      .map((f) => readFileSync(f).toString("latin1"))
      .join("")

  const body = randomBytes(24).toString("base64")
  const secret = `whsec_${body}`
  const oldKey = newKey()
  const newKeyValue = newKey()
  const startOn = (keys: ReadonlyArray<string>, logs?: Array<string>) =>
    startRelay(
      { secretKeys: ring(...keys) },
      { store: Store.layerSqlite({ filename }), ...(logs === undefined ? {} : { logs }) }
    )

  /** One outbound event delivered to `receiver`, verified with the subscriber's secret. */
  const deliveredAndVerified = async (relay: Awaited<ReturnType<typeof startRelay>>, n: number) => {
    await appendOutbound(relay, "5150", "test.at_rest", { n })
    const got = await eventually(
      async () => receiver.received.find((r) => JSON.parse(r.body).data?.n === n),
      10_000,
      `delivery ${n}`
    )
    expect(() => new Webhook(secret).verify(got.body, headersOf(got))).not.toThrow()
  }

  it("a secret given to the admin API is on disk only sealed; listings never show it; deliveries are signed with it", async () => {
    const relay = await startOn([oldKey])
    try {
      const created = await admin(relay, "POST", "/admin/subscribers", {
        url: receiver.url,
        secret,
        events: ["test.*"]
      })
      expect(created.status).toBe(201)
      // Creation shows the secret once (the caller chose it); every read shows a hint only.
      expect(created.json.secret).toBe(secret)
      const id = String(created.json.id)
      for (const read of [
        await admin(relay, "GET", "/admin/subscribers"),
        await admin(relay, "GET", `/admin/subscribers/${id}`)
      ]) {
        expect(read.status).toBe(200)
        expect(JSON.stringify(read.json)).not.toContain(body)
      }
      const rotated = await admin(relay, "POST", `/admin/subscribers/${id}/rotate-secret`, {
        secret,
        overlap_seconds: 0
      })
      expect(rotated.status).toBe(200)
      expect(JSON.stringify((await admin(relay, "GET", `/admin/subscribers/${id}`)).json)).not.toContain(body)

      await deliveredAndVerified(relay, 1)
      const bytes = onDisk()
      expect(bytes).toContain("sb1:")
      expect(bytes).not.toContain(body)
      expect(bytes).not.toContain(Buffer.from(body, "base64").toString("latin1"))
    } finally {
      await relay.close()
    }
    expect(onDisk()).not.toContain(body)
  })

  it("a new first key re-encrypts the rows at start-up; the old key can then go; a key list that cannot open them stops the start", async () => {
    const logs: Array<string> = []
    const rotated = await startOn([newKeyValue, oldKey], logs)
    try {
      // The rotation above revoked the first secret at once: one row is left, sealed under the old key.
      expect(
        logs.some(
          (l) => l.includes("re-encrypted 1 subscriber signing secret(s)") && l.includes(ring(newKeyValue)[0].id)
        )
      ).toBe(true)
      expect(logs.join("\n")).not.toContain(newKeyValue.slice(4, 24))
      await deliveredAndVerified(rotated, 2)
    } finally {
      await rotated.close()
    }

    const refused = await startOn([oldKey]).then(
      async (relay) => {
        await relay.close()
        return "started"
      },
      (error: unknown) => String(error)
    )
    expect(refused).toContain("RELAY_SECRETS_KEY")
    expect(refused).toContain(ring(newKeyValue)[0].id)
    expect(refused).not.toContain(body)

    const alone = await startOn([newKeyValue])
    try {
      await deliveredAndVerified(alone, 3)
    } finally {
      await alone.close()
    }
  })
})
