/**
 * `launcher.json` from before the relay sealed subscriber secrets has no `relaySecretsKey`: the
 * launcher adds one and stores it at once (a key that changed between starts could not open the
 * secrets sealed under it), in a file and directory that stay private.
 */
import { Effect, Redacted } from "effect"
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as LauncherFile from "../src/LauncherFile.js"

const root = mkdtempSync(join(tmpdir(), "launcher-file-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe("launcher.json", () => {
  it("a first run creates DATA_DIR 0700 and the file 0600 with every secret, the relay's secrets key included", async () => {
    const dataDir = join(root, "fresh", "data")
    const path = LauncherFile.pathIn(dataDir)
    const file = await Effect.runPromise(LauncherFile.loadOrCreate(path))
    expect(Redacted.value(file.generated.relaySecretsKey)).toMatch(/^rsk_[A-Za-z0-9+/]{43}=$/)
    expect(statSync(dataDir).mode & 0o777).toBe(0o700)
    expect(statSync(path).mode & 0o777).toBe(0o600)
  })

  it("a file from before the secrets key gets one, stored at once; the next start reads the same key", async () => {
    const path = join(root, "launcher.json")
    const { relaySecretsKey: _, ...older } = LauncherFile.generate()
    writeFileSync(
      path,
      JSON.stringify({ generated: Object.fromEntries(Object.entries(older).map(([k, v]) => [k, Redacted.value(v)])) }),
      { mode: 0o600 }
    )
    const first = await Effect.runPromise(LauncherFile.loadOrCreate(path))
    const key = Redacted.value(first.generated.relaySecretsKey)
    expect(key).toMatch(/^rsk_/)
    expect(readFileSync(path, "utf8")).toContain(key)
    expect(Redacted.value(first.generated.relayAdminToken)).toBe(Redacted.value(older.relayAdminToken))
    const again = await Effect.runPromise(LauncherFile.loadOrCreate(path))
    expect(Redacted.value(again.generated.relaySecretsKey)).toBe(key)
  })
})
