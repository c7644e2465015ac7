/**
 * GraphiQL in headless Chromium (Debian's `chromium`), with no network beyond loopback: the
 * page loads, a query typed into its editor with the API key typed into its headers editor
 * returns data.
 *
 * Needs /usr/bin/chromium and the `@graphql-yoga/graphiql` build (the installed package, or
 * GRAPHIQL_ASSETS_DIR). Without them the test is skipped with a warning, unless CI or
 * REQUIRE_CHROMIUM is set: then it fails.
 */
import { Option } from "effect"
import { existsSync } from "node:fs"
import { chromium, type Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as GraphiqlAssets from "../src/GraphiqlAssets.js"
import { ApiKey, startServer, type TestServer } from "./support/server.js"

const chromiumPath = "/usr/bin/chromium"
const required = process.env.CI !== undefined || process.env.REQUIRE_CHROMIUM !== undefined
const assetsDir = GraphiqlAssets.locate(Option.fromNullable(process.env.GRAPHIQL_ASSETS_DIR))
const missing = [
  ...(existsSync(chromiumPath) ? [] : [`${chromiumPath} (apt-get install -y chromium)`]),
  ...(Option.isSome(assetsDir) && GraphiqlAssets.isAvailable(assetsDir.value)
    ? []
    : ["the GraphiQL build (@graphql-yoga/graphiql installed, or GRAPHIQL_ASSETS_DIR)"])
]
if (missing.length > 0 && !required) {
  console.warn(`SKIPPING the GraphiQL browser test: missing ${missing.join(" and ")}. Set CI or REQUIRE_CHROMIUM to make this a failure.`)
}

describe.skipIf(missing.length > 0 && !required)("GraphiQL in Chromium", () => {
  let server: TestServer
  let browser: Browser
  beforeAll(async () => {
    expect(missing, `missing: ${missing.join(", ")}`).toEqual([])
    server = await startServer({ settings: { graphiql: true, graphiqlAssetsDir: assetsDir } })
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    })
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it("loads, and a typed query returns data", async () => {
    const page = await browser.newPage()
    const offsite: Array<string> = []
    // Nothing may leave for the internet: every request must stay on our server.
    await page.route("**/*", (route) => {
      const url = route.request().url()
      if (url.startsWith(server.url) || url.startsWith("blob:") || url.startsWith("data:")) return route.continue()
      offsite.push(url)
      return route.abort()
    })
    await page.goto(`${server.url}/graphql`)
    const editor = page.locator(".graphiql-query-editor .monaco-editor").first()
    await editor.waitFor({ timeout: 30_000 })

    // The API key goes into GraphiQL's headers editor, as a person would type it.
    await page.getByRole("button", { name: /headers/i }).first().click()
    const headers = page.locator(".graphiql-editor-tool .monaco-editor").last()
    await headers.click()
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.press("Backspace")
    await page.keyboard.type(`{"Authorization": "Bearer ${ApiKey}"`)

    await editor.click()
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.press("Backspace")
    await page.keyboard.type("{ health { ok components { name ok")
    // Close the autocompletion popup, then run with the keyboard shortcut, as a person would.
    await page.keyboard.press("Escape")
    await page.keyboard.press("ControlOrMeta+Enter")

    // Monaco renders spaces as no-break spaces.
    const response = async () => ((await page.locator(".graphiql-response").textContent()) ?? "").replace(/\s+/g, " ")
    await expect.poll(response, { timeout: 30_000 }).toContain('"ok": true')
    expect(await response()).toContain('"name": "store"')
    expect(offsite).toEqual([])
  }, 90_000)
})
