/**
 * The sandbox's seeded catalog, in HL Connect's own shapes (`AssetItem`, spec 0.2): every one of
 * the 35 fields set with believable data, so a client that decodes the real catalog decodes this
 * one, and one that does not fails here first. Fixed ids so tests and demos can name them:
 *
 * | asset | what | sellable in | min qty |
 * |---|---|---|---|
 * | 4000 | Für Elise, piano solo | world | 1 |
 * | 4001 | Hallelujah, SATB choral | world | 10 |
 * | 4002 | Yesterday, piano/vocal/guitar | US, CA only | 1 |
 * | 4003 | String Quartet No. 1: partable; its `packages` are the score and parts 4004–4007 | world | 1 |
 * | 4004–4007 | its parts (violin I, violin II, viola, cello) | world | 1 |
 * | 4008 | Jerusalem (anthem) | GB only | 1 |
 * | 4999 | Always fails fulfilment (502 on info) | world | 1 |
 * | 5000–5199 | generated titles, to page through | world | 1 |
 *
 * Ensemble parts are expressed as the spec does: `partable: true` and one `packages` entry per
 * part (its own `asset_id`, instrumentation code and name, count, sequence, `score`). A
 * registration's `parts` (AssetPartForm) must name part assets of the registered asset.
 */
import { AssetItem } from "@hlconnect/core"

/** A catalog entry as served (`item`), with the fields the sandbox's rules read made definite. */
export interface SandboxAsset {
  readonly item: AssetItem
  readonly asset_id: number
  readonly min_qty: number
  readonly world: boolean
  readonly countries: ReadonlyArray<string>
  /** The part assets a registration of this asset may name in `parts`: its non-score packages. */
  readonly partIds: ReadonlySet<number>
}

/** Where the sandbox's cover images live (its own routes do not serve them; the URLs are well-formed). */
const ImageBase = "https://images.sandbox.hlconnect.invalid/covers"

interface Entry {
  readonly asset_id: number
  readonly title: string
  readonly description: string
  readonly format_short_name: string
  readonly format: string
  readonly asset_type: string
  readonly composer: string
  readonly arranger?: string
  readonly instruments: ReadonlyArray<readonly [code: string, name: string]>
  readonly price: number
  readonly page_count?: number
  readonly min_qty?: number
  readonly countries?: ReadonlyArray<string>
  readonly voicing?: string | null
  readonly public_domain?: boolean
  readonly song_number?: number
  readonly categories?: ReadonlyArray<string>
  readonly packages?: AssetItem["packages"]
  readonly partable?: boolean
}

/** Stable pseudo-variety from the id, so every asset differs a little and every run is the same. */
const vary = (id: number, range: number) => (id * 7919) % range

const assetOf = (e: Entry): SandboxAsset => {
  const world = e.countries === undefined
  const minQty = e.min_qty ?? 1
  const packages = e.packages ?? []
  const item = AssetItem.make({
    asset_id: e.asset_id,
    format_short_name: e.format_short_name,
    format: e.format,
    page_count: e.page_count ?? 4 + vary(e.asset_id, 9),
    title: e.title,
    description: e.description,
    song_number: e.song_number ?? 100_000 + e.asset_id,
    public_domain: e.public_domain ?? false,
    external_ref: "Hal Leonard",
    external_ref_id: 1,
    voicing: e.voicing ?? null,
    performance_time: 120 + vary(e.asset_id, 240),
    difficulty_level_low: 1 + vary(e.asset_id, 3),
    difficulty_level_high: 3 + vary(e.asset_id, 3) + 0.5,
    min_qty: minQty,
    tempo: 60 + vary(e.asset_id, 100),
    world,
    retail_price: e.price,
    smd_id: `MN${String(e.asset_id).padStart(7, "0")}`,
    asset_type: e.asset_type,
    explicit: false,
    partable: e.partable ?? false,
    countries: e.countries ?? [],
    instruments: e.instruments.map(([type, name]) => ({ type, name })),
    categories: e.categories ?? ["Classical"],
    images: [
      { name: "cover", url: `${ImageBase}/${e.asset_id}.jpg` },
      { name: "first_page", url: `${ImageBase}/${e.asset_id}-p1.png` }
    ],
    contributors: [
      { is_primary: true, name: e.composer, mbid: null, role: "Composer" },
      ...(e.arranger === undefined ? [] : [{ is_primary: false, name: e.arranger, mbid: null, role: "Arranger" }])
    ],
    keywords: e.title
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter((w) => w.length > 2),
    related_goods: [
      {
        related_product_id: 10_000_000 + e.asset_id,
        group_type_id: 1,
        good_type: "H",
        sheet: true,
        featured: false,
        prime_src: false
      }
    ],
    renderings: [
      { type: "pdf", usage: "full" },
      { type: "pdf", usage: "preview" },
      { type: "audio", usage: "preview" }
    ],
    series: ["Sheet Music Direct"],
    skills: [minQty > 1 ? "Choral" : "Intermediate"],
    usergens:
      e.arranger === undefined
        ? []
        : [
            {
              black_box: false,
              arrangeable: true,
              vendor_product_type: "ARRANGEMENT",
              seller_id: 4200 + vary(e.asset_id, 50),
              authorized_performers: 1,
              content_provider: e.arranger,
              adaptation_product_id: null,
              adaptation_vendor: null,
              vendor_song_id: `SBX-${e.asset_id}`,
              commission_override_rate: 0.1,
              publisher_name: "Sandbox Music Publishing",
              medley_assets: [
                {
                  name: e.title,
                  song_catalog_id: `SC${e.asset_id}`,
                  hl_song_id: String(100_000 + e.asset_id),
                  sequence: 1
                }
              ]
            }
          ],
    prices: [
      { type_id: 1, type_usage: "digital", price: e.price },
      { type_id: 2, type_usage: "print", price: Math.round(e.price * 1.5 * 100) / 100 }
    ],
    packages
  })
  return {
    item,
    asset_id: e.asset_id,
    min_qty: minQty,
    world,
    countries: e.countries ?? [],
    partIds: new Set(
      item.partable === true
        ? packages.flatMap((p) => (p.score === true || p.asset_id === undefined ? [] : [p.asset_id]))
        : []
    )
  }
}

export const FailingAssetId = 4999

const QuartetParts = [
  { asset_id: 4004, code: "VLN1", name: "Violin I" },
  { asset_id: 4005, code: "VLN2", name: "Violin II" },
  { asset_id: 4006, code: "VLA", name: "Viola" },
  { asset_id: 4007, code: "VC", name: "Cello" }
] as const

const quartetPart = (part: (typeof QuartetParts)[number]): Entry => ({
  asset_id: part.asset_id,
  title: `String Quartet No. 1 — ${part.name}`,
  description: `The ${part.name} part of String Quartet No. 1.`,
  format_short_name: "PART",
  format: "Instrumental Part",
  asset_type: "PART",
  composer: "Sandbox Quartet Society",
  instruments: [[part.code, part.name]],
  price: 0
})

const entries: ReadonlyArray<Entry> = [
  {
    asset_id: 4000,
    title: "Für Elise",
    description: "Bagatelle No. 25 in A minor, WoO 59, for solo piano.",
    format_short_name: "PS",
    format: "Piano Solo",
    asset_type: "SHEET",
    composer: "Ludwig van Beethoven",
    instruments: [["PF", "Piano"]],
    price: 3.99,
    public_domain: true
  },
  {
    asset_id: 4001,
    title: "Hallelujah (SATB)",
    description: "A choral arrangement for mixed voices and piano; sold in sets of at least 10 copies.",
    format_short_name: "SATB",
    format: "Soprano/Alto/Tenor/Bass",
    asset_type: "CHORAL",
    composer: "Leonard Cohen",
    arranger: "Roger Emerson",
    instruments: [
      ["CHOIR", "Choir"],
      ["PF", "Piano"]
    ],
    price: 2.15,
    min_qty: 10,
    voicing: "SATB",
    categories: ["Pop", "Choral"]
  },
  {
    asset_id: 4002,
    title: "Yesterday",
    description: "Piano/vocal/guitar arrangement with lyrics and chord frames.",
    format_short_name: "PVG",
    format: "Piano/Vocal/Guitar",
    asset_type: "SHEET",
    composer: "Paul McCartney",
    instruments: [
      ["PF", "Piano"],
      ["VOC", "Voice"],
      ["GTR", "Guitar"]
    ],
    price: 4.99,
    countries: ["US", "CA"],
    categories: ["Pop", "Rock"]
  },
  {
    asset_id: 4003,
    title: "String Quartet No. 1",
    description: "Full score and parts; the parts may be bought one by one.",
    format_short_name: "SQ",
    format: "String Quartet",
    asset_type: "ENSEMBLE",
    composer: "Sandbox Quartet Society",
    instruments: QuartetParts.map((p) => [p.code, p.name] as const),
    price: 12.5,
    page_count: 24,
    partable: true,
    packages: [
      {
        asset_id: 4003,
        instrumentation_part_code: "SCORE",
        instrumentation_part_name: "Full Score",
        count: 1,
        sequence: 0,
        score: true
      },
      ...QuartetParts.map((p, i) => ({
        asset_id: p.asset_id,
        instrumentation_part_code: p.code,
        instrumentation_part_name: p.name,
        count: 1,
        sequence: i + 1,
        score: false
      }))
    ]
  },
  ...QuartetParts.map(quartetPart),
  {
    asset_id: 4008,
    title: "Jerusalem",
    description: "Hymn for choir and organ.",
    format_short_name: "SATB",
    format: "Choir and Organ",
    asset_type: "CHORAL",
    composer: "Hubert Parry",
    instruments: [
      ["ORG", "Organ"],
      ["CHOIR", "Choir"]
    ],
    price: 3.99,
    countries: ["GB"],
    voicing: "SATB",
    public_domain: true,
    categories: ["Sacred", "Choral"]
  },
  {
    asset_id: FailingAssetId,
    title: "Always Fails (sandbox)",
    description: "Registrations of this asset fail fulfilment: info answers 502.",
    format_short_name: "PS",
    format: "Piano Solo",
    asset_type: "SHEET",
    composer: "Sandbox",
    instruments: [["PF", "Piano"]],
    price: 3.99
  },
  ...Array.from(
    { length: 200 },
    (_, i): Entry => ({
      asset_id: 5000 + i,
      title: `Sandbox Title ${5000 + i}`,
      description: "A generated title, to page through the catalog.",
      format_short_name: i % 2 === 0 ? "PS" : "PVG",
      format: i % 2 === 0 ? "Piano Solo" : "Piano/Vocal/Guitar",
      asset_type: "SHEET",
      composer: `Sandbox Composer ${i % 17}`,
      instruments: [["PF", "Piano"]],
      price: 3.99
    })
  )
]

export const seedCatalog = (): ReadonlyArray<SandboxAsset> => entries.map(assetOf)

/** The catalog entry as `GET /assets/list` shows it. */
export const toAssetItem = (a: SandboxAsset): AssetItem => a.item
