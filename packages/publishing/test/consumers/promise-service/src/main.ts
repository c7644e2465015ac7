// A plain TypeScript service: only the Promise facade of @hlconnect/core, no `effect` import;
// its tests start the fake HL Connect with `startSandbox` from @hlconnect/sandbox.
import { makePromiseClient } from "@hlconnect/core"
import { startSandbox } from "@hlconnect/sandbox"

const sandbox = await startSandbox({ fulfilmentPolls: 1 })
const hl = makePromiseClient({ baseUrl: sandbox.url, accessToken: sandbox.token })
try {
  // One scripted 503 on registration: the client retries it.
  await sandbox.scriptFaults([{ kind: "unavailable503", endpoint: "registerPurchase" }])

  const validated = await hl.validatePurchase({ asset_id: 4000, customer_ip: "203.0.113.1", quantity: 1 })
  if (!validated.ok) throw new Error(`validate: ${validated.error._tag}`)
  const registered = await hl.registerPurchase({
    token: validated.value.token,
    order_number: 777,
    order_line_id: 1,
    unit_price: 3.99,
    line_item_price: 3.99,
    customer: "Jane Customer"
  })
  if (!registered.ok) throw new Error(`register: ${registered.error._tag}`)

  let status: string | undefined
  for (let poll = 0; poll < 50 && status === undefined; poll++) {
    const info = await hl.purchaseInfo({ order_id: 777 })
    if (!info.ok) throw new Error(`info: ${info.error._tag}`)
    if (info.value._tag === "Completed") status = info.value.items[0]?.status
    else await new Promise((resolve) => setTimeout(resolve, 200))
  }
  const link = await hl.downloadUrl({ order_id: 777, order_line_id: 1 })
  if (!link.ok) throw new Error(`download: ${link.error._tag}`)
  const download = await fetch(link.value.url) // a short-lived credential: used, never logged

  const unknown = await hl.purchaseInfo({ order_id: 999_999 })
  const notFound = !unknown.ok && unknown.error._tag === "OrderNotFound"
  console.log(JSON.stringify({ consumer: "promise-service", registered: registered.value._tag, status, download: download.status, notFound }))
} finally {
  await hl.close()
  await sandbox.close()
}
