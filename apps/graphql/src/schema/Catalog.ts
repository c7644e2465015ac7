/**
 * HL Connect's catalog (`/assets/list`), keyset-paged, as a connection. The cursor is the
 * page's `last_id`.
 */
import type { AssetContributor, AssetItem, AssetPrice, AssetsListResponse } from "@hlconnect/core"
import { GraphQLBoolean, GraphQLFloat, GraphQLInt, GraphQLString } from "graphql"
import { nullableListOf, objectType } from "./Builders.js"
import { type Connection, connectionType } from "./Connections.js"

const orNull = <A>(value: A | undefined): A | null => (value === undefined ? null : value)

export const AssetPriceType = objectType<AssetPrice>({
  name: "AssetPrice",
  fields: {
    currency: { type: GraphQLString, resolve: (p) => orNull(p.currency) },
    price: { type: GraphQLFloat, resolve: (p) => orNull(p.price) }
  }
})

export const ContributorType = objectType<AssetContributor>({
  name: "Contributor",
  fields: {
    name: { type: GraphQLString, resolve: (c) => orNull(c.name) },
    role: { type: GraphQLString, resolve: (c) => orNull(c.role) }
  }
})

export const AssetType = objectType<AssetItem>({
  name: "Asset",
  description: "Catalog metadata as HL Connect sends it; every field may be missing.",
  fields: {
    assetId: { type: GraphQLInt, resolve: (a) => orNull(a.asset_id) },
    title: { type: GraphQLString, resolve: (a) => orNull(a.title) },
    format: { type: GraphQLString, resolve: (a) => orNull(a.format) },
    pageCount: { type: GraphQLFloat, resolve: (a) => orNull(a.page_count) },
    minQuantity: { type: GraphQLFloat, description: "Minimum quantity per purchase (choral titles).", resolve: (a) => orNull(a.min_qty) },
    world: { type: GraphQLBoolean, description: "Sellable world-wide; otherwise only in `countries`.", resolve: (a) => orNull(a.world) },
    countries: { type: nullableListOf(GraphQLString), resolve: (a) => orNull(a.countries) },
    retailPrice: { type: GraphQLFloat, resolve: (a) => orNull(a.retail_price) },
    prices: { type: nullableListOf(AssetPriceType), resolve: (a) => orNull(a.prices) },
    contributors: { type: nullableListOf(ContributorType), resolve: (a) => orNull(a.contributors) },
    instruments: { type: nullableListOf(GraphQLString), resolve: (a) => orNull(a.instruments) },
    parts: { type: nullableListOf(GraphQLInt), description: "Asset ids of its ensemble parts.", resolve: (a) => orNull(a.parts) }
  }
})

export const AssetConnectionType = connectionType(AssetType.name, AssetType, "HL Connect's catalog, one `/assets/list` page at a time.")

/** A catalog page as a connection: each edge's cursor resumes right after its asset. */
export const assetConnection = (page: AssetsListResponse): Connection<AssetItem> => ({
  // An asset without an id (all fields are optional on the wire) resumes where the page does.
  edges: page.assets.map((asset) => ({ cursor: String(asset.asset_id ?? page.last_id ?? 0), node: asset })),
  hasNextPage: page.next_page !== null
})
