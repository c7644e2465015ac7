/** The schema as SDL, as committed in `schema.graphql`. */
import { lexicographicSortSchema, printSchema } from "graphql"
import { fileURLToPath } from "node:url"
import { schema } from "./index.js"

/** `apps/graphql/schema.graphql`, from `src/schema` and from `dist/schema` alike. */
export const schemaFile = fileURLToPath(new URL("../../schema.graphql", import.meta.url))

/** Sorted, so moving code around does not reorder the file. */
export const printedSchema = (): string => `${printSchema(lexicographicSortSchema(schema))}\n`
