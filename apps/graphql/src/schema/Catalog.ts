/**
 * HL Connect's catalog (`/assets/list`), keyset-paged, as a connection. The cursor is the
 * page's `last_id`.
 */
import type {
  AssetItem,
  AssetsListResponse,
  ContributorItem,
  ImageItem,
  InstrumentItem,
  MedleyAssetItem,
  PackageItem,
  PriceItem,
  RelatedGoodItem,
  RenderingItem,
  UsergenItem
} from "@hlconnect/core"
import { GraphQLBoolean, GraphQLFloat, GraphQLInt, GraphQLString } from "graphql"
import { nullableListOf, objectType } from "./Builders.js"
import { type Connection, connectionType } from "./Connections.js"

/** Absent and (where the spec allows it) null are both GraphQL's null. */
const orNull = <A>(value: A | null | undefined): A | null => (value === undefined ? null : value)

export const InstrumentType = objectType<InstrumentItem>({
  name: "Instrument",
  fields: {
    type: { type: GraphQLString, description: "Instrument type code.", resolve: (i) => orNull(i.type) },
    name: { type: GraphQLString, resolve: (i) => orNull(i.name) }
  }
})

export const PriceType = objectType<PriceItem>({
  name: "Price",
  description: "A price of the asset by price type, in the vendor's currency.",
  fields: {
    typeId: { type: GraphQLInt, resolve: (p) => orNull(p.type_id) },
    typeUsage: { type: GraphQLString, description: "e.g. `digital`, `print`.", resolve: (p) => orNull(p.type_usage) },
    price: { type: GraphQLFloat, resolve: (p) => orNull(p.price) }
  }
})

export const ContributorType = objectType<ContributorItem>({
  name: "Contributor",
  fields: {
    isPrimary: { type: GraphQLBoolean, resolve: (c) => orNull(c.is_primary) },
    name: { type: GraphQLString, resolve: (c) => orNull(c.name) },
    mbid: { type: GraphQLString, description: "MusicBrainz id.", resolve: (c) => orNull(c.mbid) },
    role: { type: GraphQLString, description: "e.g. Composer, Arranger.", resolve: (c) => orNull(c.role) }
  }
})

export const ImageType = objectType<ImageItem>({
  name: "Image",
  fields: {
    name: { type: GraphQLString, description: "Image type name, e.g. cover.", resolve: (i) => orNull(i.name) },
    url: { type: GraphQLString, resolve: (i) => orNull(i.url) }
  }
})

export const RenderingType = objectType<RenderingItem>({
  name: "Rendering",
  fields: {
    type: {
      type: GraphQLString,
      description: "pdf, scorch, musicxml, embed, audio, streaming (open).",
      resolve: (r) => orNull(r.type)
    },
    usage: { type: GraphQLString, description: "full or preview (open).", resolve: (r) => orNull(r.usage) }
  }
})

export const PackageType = objectType<PackageItem>({
  name: "Package",
  description:
    "A part of an ensemble (or an item of a bundle); a partable asset's parts are bought as their own order lines.",
  fields: {
    assetId: { type: GraphQLInt, resolve: (p) => orNull(p.asset_id) },
    instrumentationPartCode: { type: GraphQLString, resolve: (p) => orNull(p.instrumentation_part_code) },
    instrumentationPartName: { type: GraphQLString, resolve: (p) => orNull(p.instrumentation_part_name) },
    count: { type: GraphQLInt, resolve: (p) => orNull(p.count) },
    sequence: { type: GraphQLInt, resolve: (p) => orNull(p.sequence) },
    score: { type: GraphQLBoolean, description: "Whether this item is the score.", resolve: (p) => orNull(p.score) }
  }
})

export const RelatedGoodType = objectType<RelatedGoodItem>({
  name: "RelatedGood",
  fields: {
    relatedProductId: { type: GraphQLInt, resolve: (g) => orNull(g.related_product_id) },
    groupTypeId: { type: GraphQLInt, resolve: (g) => orNull(g.group_type_id) },
    goodType: {
      type: GraphQLString,
      description: "H hard goods, D digital, V virtual.",
      resolve: (g) => orNull(g.good_type)
    },
    sheet: { type: GraphQLBoolean, resolve: (g) => orNull(g.sheet) },
    featured: { type: GraphQLBoolean, resolve: (g) => orNull(g.featured) },
    primeSource: { type: GraphQLBoolean, resolve: (g) => orNull(g.prime_src) }
  }
})

export const MedleyAssetType = objectType<MedleyAssetItem>({
  name: "MedleyAsset",
  fields: {
    name: { type: GraphQLString, resolve: (m) => orNull(m.name) },
    songCatalogId: { type: GraphQLString, resolve: (m) => orNull(m.song_catalog_id) },
    hlSongId: { type: GraphQLString, resolve: (m) => orNull(m.hl_song_id) },
    sequence: { type: GraphQLInt, resolve: (m) => orNull(m.sequence) }
  }
})

export const UsergenType = objectType<UsergenItem>({
  name: "Usergen",
  description: "User-generated content or customisation options.",
  fields: {
    blackBox: { type: GraphQLBoolean, resolve: (u) => orNull(u.black_box) },
    arrangeable: { type: GraphQLBoolean, resolve: (u) => orNull(u.arrangeable) },
    vendorProductType: { type: GraphQLString, resolve: (u) => orNull(u.vendor_product_type) },
    sellerId: { type: GraphQLInt, resolve: (u) => orNull(u.seller_id) },
    authorizedPerformers: { type: GraphQLInt, resolve: (u) => orNull(u.authorized_performers) },
    contentProvider: { type: GraphQLString, resolve: (u) => orNull(u.content_provider) },
    adaptationProductId: { type: GraphQLInt, resolve: (u) => orNull(u.adaptation_product_id) },
    adaptationVendor: { type: GraphQLString, resolve: (u) => orNull(u.adaptation_vendor) },
    vendorSongId: { type: GraphQLString, resolve: (u) => orNull(u.vendor_song_id) },
    commissionOverrideRate: { type: GraphQLFloat, resolve: (u) => orNull(u.commission_override_rate) },
    publisherName: { type: GraphQLString, resolve: (u) => orNull(u.publisher_name) },
    medleyAssets: { type: nullableListOf(MedleyAssetType), resolve: (u) => orNull(u.medley_assets) }
  }
})

export const AssetType = objectType<AssetItem>({
  name: "Asset",
  description: "Catalog metadata as HL Connect sends it (`AssetItem`, spec 0.2); every field may be missing.",
  fields: {
    assetId: { type: GraphQLInt, resolve: (a) => orNull(a.asset_id) },
    title: { type: GraphQLString, resolve: (a) => orNull(a.title) },
    description: { type: GraphQLString, resolve: (a) => orNull(a.description) },
    formatShortName: {
      type: GraphQLString,
      description: "e.g. PVG, SSA.",
      resolve: (a) => orNull(a.format_short_name)
    },
    format: { type: GraphQLString, description: "e.g. Piano/Vocal/Guitar.", resolve: (a) => orNull(a.format) },
    assetType: { type: GraphQLString, description: "e.g. FOLIO, CHMBK, PCK.", resolve: (a) => orNull(a.asset_type) },
    pageCount: { type: GraphQLInt, resolve: (a) => orNull(a.page_count) },
    songNumber: {
      type: GraphQLInt,
      description: "Hal Leonard's song identifier.",
      resolve: (a) => orNull(a.song_number)
    },
    publicDomain: { type: GraphQLBoolean, resolve: (a) => orNull(a.public_domain) },
    externalRef: {
      type: GraphQLString,
      description: "The company providing the asset.",
      resolve: (a) => orNull(a.external_ref)
    },
    externalRefId: { type: GraphQLInt, resolve: (a) => orNull(a.external_ref_id) },
    voicing: { type: GraphQLString, description: "Choral voicing, e.g. SATB.", resolve: (a) => orNull(a.voicing) },
    performanceTime: { type: GraphQLInt, description: "Seconds.", resolve: (a) => orNull(a.performance_time) },
    difficultyLevelLow: { type: GraphQLFloat, resolve: (a) => orNull(a.difficulty_level_low) },
    difficultyLevelHigh: { type: GraphQLFloat, resolve: (a) => orNull(a.difficulty_level_high) },
    minQuantity: {
      type: GraphQLInt,
      description: "Minimum quantity per purchase (choral titles).",
      resolve: (a) => orNull(a.min_qty)
    },
    tempo: { type: GraphQLInt, description: "Beats per minute.", resolve: (a) => orNull(a.tempo) },
    world: {
      type: GraphQLBoolean,
      description: "Sellable world-wide; otherwise only in `countries`.",
      resolve: (a) => orNull(a.world)
    },
    countries: { type: nullableListOf(GraphQLString), resolve: (a) => orNull(a.countries) },
    retailPrice: {
      type: GraphQLFloat,
      description: "Suggested retail price in the vendor's currency.",
      resolve: (a) => orNull(a.retail_price)
    },
    smdId: { type: GraphQLString, description: "Sheet Music Direct id.", resolve: (a) => orNull(a.smd_id) },
    explicit: { type: GraphQLBoolean, resolve: (a) => orNull(a.explicit) },
    partable: {
      type: GraphQLBoolean,
      description: "Whether its parts (`packages`) may be bought one by one.",
      resolve: (a) => orNull(a.partable)
    },
    instruments: { type: nullableListOf(InstrumentType), resolve: (a) => orNull(a.instruments) },
    categories: { type: nullableListOf(GraphQLString), resolve: (a) => orNull(a.categories) },
    images: { type: nullableListOf(ImageType), resolve: (a) => orNull(a.images) },
    contributors: { type: nullableListOf(ContributorType), resolve: (a) => orNull(a.contributors) },
    keywords: { type: nullableListOf(GraphQLString), resolve: (a) => orNull(a.keywords) },
    relatedGoods: { type: nullableListOf(RelatedGoodType), resolve: (a) => orNull(a.related_goods) },
    renderings: { type: nullableListOf(RenderingType), resolve: (a) => orNull(a.renderings) },
    series: { type: nullableListOf(GraphQLString), resolve: (a) => orNull(a.series) },
    skills: { type: nullableListOf(GraphQLString), resolve: (a) => orNull(a.skills) },
    usergens: { type: nullableListOf(UsergenType), resolve: (a) => orNull(a.usergens) },
    prices: { type: nullableListOf(PriceType), resolve: (a) => orNull(a.prices) },
    packages: { type: nullableListOf(PackageType), resolve: (a) => orNull(a.packages) }
  }
})

export const AssetConnectionType = connectionType(
  AssetType.name,
  AssetType,
  "HL Connect's catalog, one `/assets/list` page at a time."
)

/** A catalog page as a connection: each edge's cursor resumes right after its asset. */
export const assetConnection = (page: AssetsListResponse): Connection<AssetItem> => ({
  // An asset without an id (all fields are optional on the wire) resumes where the page does.
  edges: page.assets.map((asset) => ({ cursor: String(asset.asset_id ?? page.last_id ?? 0), node: asset })),
  hasNextPage: page.next_page !== null
})
