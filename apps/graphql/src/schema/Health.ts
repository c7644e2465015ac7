/**
 * `health`: the store and HL Connect, checked live. A failing component is reported, not thrown.
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { HlConnect } from "@hlconnect/core"
import { Effect } from "effect"
import { GraphQLBoolean, GraphQLString } from "graphql"
import { listOf, nonNull, objectType } from "./Builders.js"

export interface ComponentHealth {
  readonly name: string
  readonly ok: boolean
  readonly detail: string | null
}

export interface HealthReport {
  readonly ok: boolean
  readonly components: ReadonlyArray<ComponentHealth>
}

export const ComponentHealthType = objectType<ComponentHealth>({
  name: "ComponentHealth",
  fields: {
    name: { type: nonNull(GraphQLString), resolve: (c) => c.name },
    ok: { type: nonNull(GraphQLBoolean), resolve: (c) => c.ok },
    detail: {
      type: GraphQLString,
      description: "Why it is not ok (an error tag, never a secret).",
      resolve: (c) => c.detail
    }
  }
})

export const HealthType = objectType<HealthReport>({
  name: "Health",
  fields: {
    ok: { type: nonNull(GraphQLBoolean), resolve: (h) => h.ok },
    components: { type: listOf(ComponentHealthType), resolve: (h) => h.components }
  }
})

const storeHealth = Effect.flatMap(SqlClient, (sql) => sql`SELECT 1`).pipe(
  Effect.as<ComponentHealth>({ name: "store", ok: true, detail: null }),
  Effect.catchAll((error) => Effect.succeed<ComponentHealth>({ name: "store", ok: false, detail: error._tag }))
)

/** HL Connect's own `/health` items, as `hlconnect:<name>`; unreachable is one failing component. */
const upstreamHealth = Effect.flatMap(HlConnect, (hl) => hl.health()).pipe(
  Effect.map((items) =>
    items.map(
      (item): ComponentHealth => ({
        name: `hlconnect:${item.name}`,
        ok: item.health,
        detail: item.health ? null : "unhealthy"
      })
    )
  ),
  Effect.catchAll((error) =>
    Effect.succeed<ReadonlyArray<ComponentHealth>>([{ name: "hlconnect", ok: false, detail: error._tag }])
  )
)

export const healthReport: Effect.Effect<HealthReport, never, SqlClient | HlConnect> = Effect.map(
  Effect.all([storeHealth, upstreamHealth], { concurrency: "unbounded" }),
  ([store, upstream]) => {
    const components = [store, ...upstream]
    return { ok: components.every((c) => c.ok), components }
  }
)
