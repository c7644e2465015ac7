/**
 * The sandbox's `/openapi.json` (derived from the one HttpApi definition) documents every endpoint
 * with the documented statuses; `/docs` serves the interactive page.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type RunningSandbox, startSandbox } from "@hlconnect/sandbox"

let sandbox: RunningSandbox
beforeAll(async () => {
  sandbox = await startSandbox()
})
afterAll(() => sandbox.close())

const documented: ReadonlyArray<readonly [string, string, ReadonlyArray<number>, boolean]> = [
  ["post", "/purchase/validate-purchase-before-payment", [200, 400, 401, 404, 422, 500], true],
  ["post", "/purchase/register", [201, 401, 404, 409, 422, 500], true],
  ["get", "/purchase/info", [200, 202, 401, 404, 500, 502], true],
  ["get", "/purchase/download-url", [200, 401, 404, 500], true],
  ["get", "/purchase/view-url", [200, 401, 404, 500], true],
  ["delete", "/purchase/cancel", [201, 400, 401, 404, 500], true],
  ["get", "/assets/list", [200, 401, 403, 500], true],
  ["get", "/health", [200, 500], false]
]
/** What HttpApi adds on its own: 400 for a request it cannot decode. */
const allowedExtras = new Set([400])

type Operation = { readonly responses?: Record<string, unknown>; readonly security?: ReadonlyArray<unknown> }
const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

describe("/openapi.json", () => {
  it("lists every endpoint with exactly the documented statuses (plus HttpApi's decode 400)", async () => {
    const response = await fetch(`${sandbox.url}/openapi.json`)
    assert.strictEqual(response.status, 200)
    const doc: unknown = await response.json()
    assert.isTrue(isRecord(doc))
    if (!isRecord(doc) || !isRecord(doc.paths)) return assert.fail("no paths")
    const paths = doc.paths
    assert.strictEqual(isRecord(doc.info) ? doc.info.version : undefined, "0.2")
    const extras: Array<string> = []
    for (const [method, path, statuses, secured] of documented) {
      const item = paths[path]
      if (!isRecord(item) || !isRecord(item[method])) return assert.fail(`${method.toUpperCase()} ${path} is missing`)
      const operation: Operation = item[method]
      const listed = Object.keys(operation.responses ?? {})
        .map(Number)
        .sort((a, b) => a - b)
      for (const status of statuses) assert.include(listed, status, `${method} ${path} lacks ${status}`)
      for (const status of listed) {
        if (!statuses.includes(status)) {
          assert.isTrue(allowedExtras.has(status), `${method} ${path} documents ${status}`)
          extras.push(`${method.toUpperCase()} ${path} ${status}`)
        }
      }
      assert.strictEqual((operation.security ?? []).length > 0, secured, `${path} security`)
    }
    // Nothing else is served under the API's paths.
    assert.deepStrictEqual(Object.keys(paths).sort(), documented.map(([, path]) => path).sort())
    // Reported, not hidden: HttpApi's own 400 (HttpApiDecodeError) on every endpoint lacking one.
    assert.deepStrictEqual(extras, [
      "POST /purchase/register 400",
      "GET /purchase/info 400",
      "GET /purchase/download-url 400",
      "GET /purchase/view-url 400",
      "GET /assets/list 400",
      "GET /health 400"
    ])
  })

  it("201 and 202 are documented as such: register's and cancel's 201 carry no body", async () => {
    const doc: unknown = await (await fetch(`${sandbox.url}/openapi.json`)).json()
    if (!isRecord(doc) || !isRecord(doc.paths)) return assert.fail("no paths")
    const register = doc.paths["/purchase/register"]
    const created =
      isRecord(register) && isRecord(register.post) && isRecord(register.post.responses)
        ? register.post.responses["201"]
        : undefined
    assert.isTrue(isRecord(created))
    if (isRecord(created)) assert.isUndefined(created.content)
    const info = doc.paths["/purchase/info"]
    const accepted =
      isRecord(info) && isRecord(info.get) && isRecord(info.get.responses) ? info.get.responses["202"] : undefined
    assert.isTrue(isRecord(accepted) && isRecord(accepted.content))
  })
})

describe("/docs", () => {
  it("serves HTML", async () => {
    const response = await fetch(`${sandbox.url}/docs`)
    assert.strictEqual(response.status, 200)
    assert.include(response.headers.get("content-type") ?? "", "text/html")
    assert.include((await response.text()).toLowerCase(), "<html")
  })
})
