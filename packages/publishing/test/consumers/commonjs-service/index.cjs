// A CommonJS service: require("@hlconnect/core") (an ES module, loaded by Node's require(esm),
// Node ≥ 20.19) against a sandbox run as its own process (`npx hlconnect-sandbox`).
const { makePromiseClient } = require("@hlconnect/core")

const main = async () => {
  const hl = makePromiseClient({ baseUrl: process.env.HLCONNECT_BASE_URL, accessToken: process.env.HLCONNECT_TOKEN })
  try {
    const validated = await hl.validatePurchase({ asset_id: 4000, customer_ip: "198.51.100.7", quantity: 1 })
    if (!validated.ok) throw new Error(`validate: ${validated.error._tag}`)
    const registered = await hl.registerPurchase({
      token: validated.value.token,
      order_number: 4242,
      order_line_id: 1,
      unit_price: 3.99,
      line_item_price: 3.99,
      customer: "Common JS"
    })
    if (!registered.ok) throw new Error(`register: ${registered.error._tag}`)
    let status
    for (let poll = 0; poll < 50 && status === undefined; poll++) {
      const info = await hl.purchaseInfo({ order_id: 4242 })
      if (!info.ok) throw new Error(`info: ${info.error._tag}`)
      if (info.value._tag === "Completed") status = info.value.items[0].status
      else await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const link = await hl.downloadUrl({ order_id: 4242, order_line_id: 1 })
    if (!link.ok) throw new Error(`download: ${link.error._tag}`)
    const download = await fetch(link.value.url) // a short-lived credential: used, never logged
    console.log(JSON.stringify({ consumer: "commonjs-service", status, download: download.status }))
  } finally {
    await hl.close()
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
