/**
 * `startSandbox` as a test not written with Effect uses it: plain options in, plain values and
 * promises out, bad fault input refused without changing anything.
 */
import { describe, expect, it } from "@effect/vitest"
import { SandboxToken, startSandbox } from "../src/Testing.js"

const listAssets = (url: string, token: string) =>
  fetch(`${url}/assets/list?page_size=1`, { headers: { authorization: `Bearer ${token}` } })

describe("startSandbox", () => {
  it("gives the token it accepts (the default, or the first of plain-string accessTokens)", async () => {
    const byDefault = await startSandbox()
    const own = await startSandbox({ accessTokens: ["own-plain-token", "second"], fulfilmentDelay: "1 second" })
    try {
      expect(byDefault.token).toBe(SandboxToken)
      expect(own.token).toBe("own-plain-token")
      expect((await listAssets(own.url, own.token)).status).toBe(200)
      expect((await listAssets(own.url, "second")).status).toBe(200)
      expect((await listAssets(own.url, SandboxToken)).status).toBe(401)
    } finally {
      await byDefault.close()
      await own.close()
    }
  })

  it("scriptFaults and setFaults take plain objects, decode them, and reject bad ones changing nothing", async () => {
    const sandbox = await startSandbox()
    try {
      // As a caller in plain JavaScript would pass it: the second fault is of no known kind.
      const fromJavaScript: Parameters<typeof sandbox.scriptFaults>[0] = JSON.parse(
        '[{"kind":"teapot418"},{"kind":"no-such-fault"}]'
      )
      await expect(sandbox.scriptFaults(fromJavaScript)).rejects.toThrow(/no-such-fault/)
      await expect(sandbox.setFaults({ error_rate: 2 })).rejects.toThrow(/error_rate/)
      expect((await listAssets(sandbox.url, sandbox.token)).status).toBe(200) // nothing was queued or set

      await sandbox.scriptFaults([{ kind: "teapot418", endpoint: "listAssets" }])
      expect((await listAssets(sandbox.url, sandbox.token)).status).toBe(418)
      expect((await listAssets(sandbox.url, sandbox.token)).status).toBe(200)
      await sandbox.setFaults({ error_rate: 1, endpoints: ["listAssets"] })
      expect((await listAssets(sandbox.url, sandbox.token)).status).toBe(500)
    } finally {
      await sandbox.close()
    }
  })
})
