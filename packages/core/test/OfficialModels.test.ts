/**
 * Every wire model, field for field as the official SDK's model pages: a value setting every
 * documented field decodes and encodes back unchanged (nothing dropped, nothing retyped), the
 * model knows no field the pages do not (nothing invented), and a value with only the required
 * fields decodes too. Nullable fields keep `null`; a `null` in a field the spec does not make
 * nullable reads as absent, as the official SDK reads it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either, Schema, SchemaAST } from "effect"
import * as Models from "../src/Models.js"
import { officialFixtures } from "./fixtures/officialModels.js"

/** The wire field names of a model: its encoded side's property signatures. */
const wireFields = (ast: SchemaAST.AST): ReadonlyArray<string> => {
  const encoded = SchemaAST.encodedAST(ast)
  return SchemaAST.isTypeLiteral(encoded) ? encoded.propertySignatures.map((p) => String(p.name)) : []
}

interface Model {
  readonly fields: ReadonlyArray<string>
  readonly roundTrip: (value: unknown) => Either.Either<unknown, unknown>
  readonly decodes: (value: unknown) => boolean
}
const model = <A, I>(schema: Schema.Schema<A, I>): Model => {
  const decode = Schema.decodeUnknownEither(schema)
  const encode = Schema.encodeEither(schema)
  return {
    fields: wireFields(schema.ast),
    roundTrip: (value) => Either.flatMap(decode(value), encode),
    decodes: (value) => Either.isRight(decode(value))
  }
}

interface Fixture {
  readonly full: Readonly<Record<string, unknown>>
  readonly required: Readonly<Record<string, unknown>>
}
const cases: ReadonlyArray<readonly [string, Model, Fixture]> = [
  ["AssetItem", model(Models.AssetItem), officialFixtures.AssetItem],
  ["AssetPartForm", model(Models.AssetPartForm), officialFixtures.AssetPartForm],
  ["AssetsListResponse", model(Models.AssetsListResponse), officialFixtures.AssetsListResponse],
  ["ContributorItem", model(Models.ContributorItem), officialFixtures.ContributorItem],
  ["DownloadUrl", model(Models.DownloadUrl), officialFixtures.DownloadUrl],
  ["ErrorResponse", model(Models.ErrorResponse), officialFixtures.ErrorResponse],
  ["HealthItem", model(Models.HealthItem), officialFixtures.HealthItem],
  ["ImageItem", model(Models.ImageItem), officialFixtures.ImageItem],
  ["InstrumentItem", model(Models.InstrumentItem), officialFixtures.InstrumentItem],
  ["MedleyAssetItem", model(Models.MedleyAssetItem), officialFixtures.MedleyAssetItem],
  ["OrderItem", model(Models.OrderItem), officialFixtures.OrderItem],
  [
    "OrderProcessingFailedResponse",
    model(Models.OrderProcessingFailedResponse),
    officialFixtures.OrderProcessingFailedResponse
  ],
  ["PackageItem", model(Models.PackageItem), officialFixtures.PackageItem],
  ["PriceItem", model(Models.PriceItem), officialFixtures.PriceItem],
  [
    "PurchaseInProcessingResponse",
    model(Models.PurchaseInProcessingResponse),
    officialFixtures.PurchaseInProcessingResponse
  ],
  ["PurchaseRegisterRequest", model(Models.PurchaseRegisterRequest), officialFixtures.PurchaseRegisterRequest],
  [
    "PurchaseValidateBeforePaymentRequest",
    model(Models.PurchaseValidateBeforePaymentRequest),
    officialFixtures.PurchaseValidateBeforePaymentRequest
  ],
  ["RelatedGoodItem", model(Models.RelatedGoodItem), officialFixtures.RelatedGoodItem],
  ["RenderingItem", model(Models.RenderingItem), officialFixtures.RenderingItem],
  ["UsergenItem", model(Models.UsergenItem), officialFixtures.UsergenItem],
  ["ValidationToken", model(Models.ValidationToken), officialFixtures.ValidationToken],
  ["ViewUrl", model(Models.ViewUrl), officialFixtures.ViewUrl]
]

describe("every wire model, as the official SDK's pages define it", () => {
  it("covers every model page", () => {
    assert.sameMembers(
      cases.map(([name]) => name),
      Object.keys(officialFixtures)
    )
  })
  for (const [name, m, fixture] of cases) {
    it(`${name}: exactly the documented fields, every one kept with its type`, () => {
      assert.sameMembers([...m.fields], Object.keys(fixture.full), "fields differ from the official page")
      const back = m.roundTrip(fixture.full)
      assert.isTrue(
        Either.isRight(back),
        `${name} does not decode its full fixture: ${Either.isLeft(back) ? String(back.left) : ""}`
      )
      if (Either.isRight(back)) assert.deepStrictEqual(JSON.parse(JSON.stringify(back.right)), fixture.full)
    })
    it(`${name}: only the required fields`, () => {
      assert.isTrue(m.decodes(fixture.required))
      for (const field of Object.keys(fixture.required)) {
        const { [field]: _, ...without } = fixture.required
        assert.isFalse(m.decodes(without), `${name} decodes without its required ${field}`)
      }
    })
  }
})

describe("null, where the spec allows it and where it does not", () => {
  const decode = Schema.decodeUnknownEither(Models.AssetItem)
  it("a nullable field keeps null; a non-nullable optional one reads null as absent", () => {
    const asset = decode({ asset_id: 1, format: null, countries: null, title: null, partable: null })
    assert.isTrue(Either.isRight(asset))
    if (Either.isRight(asset)) {
      assert.isNull(asset.right.format)
      assert.isNull(asset.right.countries)
      assert.isUndefined(asset.right.title)
      assert.isFalse("partable" in asset.right && asset.right.partable !== undefined)
    }
  })
  it("a page in the official shapes decodes; the shapes this client once guessed do not", () => {
    const page = Schema.decodeUnknownEither(Models.AssetsListResponse)
    const official = { assets: [officialFixtures.AssetItem.full], last_id: 7, next_page: null }
    assert.isTrue(Either.isRight(page(official)))
    assert.isTrue(Either.isLeft(page({ ...official, assets: [{ asset_id: 1, instruments: ["Piano"] }] })))
    assert.isTrue(Either.isLeft(page({ ...official, assets: [{ asset_id: 1, contributors: ["Beethoven"] }] })))
  })
})
