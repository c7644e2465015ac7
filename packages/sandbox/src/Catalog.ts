/**
 * The sandbox's seeded catalog. Fixed ids so tests and demos can name them:
 *
 * | asset | what | sellable in | min qty |
 * |---|---|---|---|
 * | 4000 | Für Elise (PDF) | world | 1 |
 * | 4001 | Hallelujah, SATB choral | world | 10 |
 * | 4002 | Yesterday | US, CA only | 1 |
 * | 4003 | String Quartet No. 1, score; parts 4004–4007 | world | 1 |
 * | 4004–4007 | its parts (violin I, violin II, viola, cello) | world | 1 |
 * | 4008 | Jerusalem (anthem) | GB only | 1 |
 * | 4999 | Always fails fulfilment (502 on info) | world | 1 |
 * | 5000–5199 | generated titles, to page through | world | 1 |
 */
import type { AssetItem } from "@hlconnect/core"

export interface SandboxAsset {
  readonly asset_id: number
  readonly title: string
  readonly format: string
  readonly page_count: number
  readonly min_qty: number
  readonly world: boolean
  readonly countries: ReadonlyArray<string>
  readonly retail_price: number
  readonly instruments: ReadonlyArray<string>
  readonly contributors: ReadonlyArray<{ readonly name: string; readonly role: string }>
  readonly parts: ReadonlyArray<number>
}

const asset = (a: Partial<SandboxAsset> & Pick<SandboxAsset, "asset_id" | "title">): SandboxAsset => ({
  format: "PDF",
  page_count: 4,
  min_qty: 1,
  world: true,
  countries: [],
  retail_price: 3.99,
  instruments: ["Piano"],
  contributors: [],
  parts: [],
  ...a
})

export const FailingAssetId = 4999

export const seedCatalog = (): ReadonlyArray<SandboxAsset> => [
  asset({ asset_id: 4000, title: "Für Elise", contributors: [{ name: "Ludwig van Beethoven", role: "Composer" }] }),
  asset({ asset_id: 4001, title: "Hallelujah (SATB)", min_qty: 10, retail_price: 2.15, instruments: ["Choir"] }),
  asset({ asset_id: 4002, title: "Yesterday", world: false, countries: ["US", "CA"], retail_price: 4.99 }),
  asset({
    asset_id: 4003,
    title: "String Quartet No. 1 (score)",
    retail_price: 12.5,
    page_count: 24,
    instruments: ["Violin", "Viola", "Cello"],
    parts: [4004, 4005, 4006, 4007]
  }),
  asset({ asset_id: 4004, title: "String Quartet No. 1 — Violin I", retail_price: 0, instruments: ["Violin"] }),
  asset({ asset_id: 4005, title: "String Quartet No. 1 — Violin II", retail_price: 0, instruments: ["Violin"] }),
  asset({ asset_id: 4006, title: "String Quartet No. 1 — Viola", retail_price: 0, instruments: ["Viola"] }),
  asset({ asset_id: 4007, title: "String Quartet No. 1 — Cello", retail_price: 0, instruments: ["Cello"] }),
  asset({ asset_id: 4008, title: "Jerusalem", world: false, countries: ["GB"], instruments: ["Organ", "Choir"] }),
  asset({ asset_id: FailingAssetId, title: "Always Fails (sandbox)" }),
  ...Array.from({ length: 200 }, (_, i) => asset({ asset_id: 5000 + i, title: `Sandbox Title ${5000 + i}` }))
]

/** The catalog entry as `GET /assets/list` shows it. */
export const toAssetItem = (a: SandboxAsset): AssetItem => ({
  asset_id: a.asset_id,
  title: a.title,
  format: a.format,
  page_count: a.page_count,
  min_qty: a.min_qty,
  world: a.world,
  countries: a.countries,
  retail_price: a.retail_price,
  prices: [{ currency: "USD", price: a.retail_price }],
  contributors: a.contributors,
  instruments: a.instruments,
  parts: a.parts
})
