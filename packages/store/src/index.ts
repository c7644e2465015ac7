/**
 * The package's public surface: each repository as a namespace, plus errors, leases and config.
 */
export * as Admission from "./Admission.js"
export * from "./Errors.js"
export * as Inbox from "./Inbox.js"
export * as InboxWriter from "./InboxWriter.js"
export * from "./Lease.js"
export * as Migrations from "./Migrations.js"
export * as OrderLines from "./OrderLines.js"
export * as Outbox from "./Outbox.js"
export * as PrivateFiles from "./PrivateFiles.js"
export * as ReconcileRuns from "./ReconcileRuns.js"
export * as SecretBox from "./SecretBox.js"
export * as TraceContext from "./TraceContext.js"
export * as Store from "./Store.js"
export * from "./StoreConfig.js"
export * as Subscribers from "./Subscribers.js"
export * as Testing from "./Testing.js"
