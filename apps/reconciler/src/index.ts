/** The reconciler as composable pieces (the `reconcile` CLI is `main.ts`). */
export * as Cli from "./Cli.js"
export * as Reconciler from "./Reconciler.js"
export * as ReconcilerConfig from "./ReconcilerConfig.js"
export * as Report from "./Report.js"
export * as Retention from "./Retention.js"
export * as CronRunner from "./CronRunner.js"
export * as Scheduled from "./Scheduled.js"
