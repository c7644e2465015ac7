/**
 * GraphiQL in headless Chromium (Debian's `chromium`), with no network beyond loopback: the
 * page opens on example operations for this API with a placeholder Authorization header, and a
 * query typed into its editor with the API key typed into its headers editor returns data.
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
  console.warn(
    `SKIPPING the GraphiQL browser test: missing ${missing.join(" and ")}. Set CI or REQUIRE_CHROMIUM to make this a failure.`
  )
}

describe.skipIf(missing.length > 0 && !required)("GraphiQL in Chromium", () => {
  let server: TestServer
  let browser: Browser
  beforeAll(async () => {
    expect(missing, `missing: ${missing.join(", ")}`).toEqual([])
    server = await startServer({ settings: { graphiql: true, graphiqlAssetsDir: assetsDir } })
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ]
    })
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it("opens on example operations for this API, with the Authorization header as a placeholder (never the key)", async () => {
    const page = await browser.newPage()
    await page.goto(`${server.url}/graphql`)
    const editor = page.locator(".graphiql-query-editor .monaco-editor").first()
    await editor.waitFor({ timeout: 30_000 })
    // Monaco renders spaces as no-break spaces.
    const text = async (locator: typeof editor) => ((await locator.textContent()) ?? "").replace(/\s+/g, " ")
    await expect.poll(() => text(editor), { timeout: 30_000 }).toContain("query CatalogPage")
    expect(await text(editor)).toContain('under the launcher (npm start) "graphqlApiKey" in .data/launcher.json')

    await page
      .getByRole("button", { name: /headers/i })
      .first()
      .click()
    const headers = page.locator(".graphiql-editor-tool .monaco-editor").last()
    await expect
      .poll(() => text(headers), { timeout: 30_000 })
      .toContain('"Authorization": "Bearer <your GraphQL API key>"')

    // The whole document (its later operations are below the fold), and no key anywhere in the page.
    const html = await page.content()
    for (const operation of ["query CatalogPage", "query Order", "mutation Validate"]) expect(html).toContain(operation)
    expect(html).not.toContain(ApiKey)
  }, 90_000)

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
    await page
      .getByRole("button", { name: /headers/i })
      .first()
      .click()
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

    // Monaco renders spaces as no-break spaces.
    const response = async () => ((await page.locator(".graphiql-response").textContent()) ?? "").replace(/\s+/g, " ")
    // GraphiQL reads the operations of the edited document a moment after the last keystroke; run
    // before that and it still names the default document's first operation. Run again, as a
    // person would, until the typed query answers.
    const run = async () => {
      await page.keyboard.press("ControlOrMeta+Enter")
      return response()
    }
    await expect.poll(run, { timeout: 30_000 }).toContain('"ok": true')
    expect(await response()).toContain('"name": "store"')
    expect(offsite).toEqual([])
  }, 90_000)
})
