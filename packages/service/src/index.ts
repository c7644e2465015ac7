/**
 * Shared building blocks for every HL Connect app: HTTP serving, health,
 * Prometheus metrics, logging, trace export, configuration validation, size-capped request bodies
 * and graceful shutdown.
 */
export * as BearerAuth from "./BearerAuth.js"
export * as Health from "./Health.js"
export * as HttpMetrics from "./HttpMetrics.js"
export * as HttpServing from "./HttpServing.js"
export * as Logging from "./Logging.js"
export * as Metrics from "./Metrics.js"
export * as OpsRoutes from "./OpsRoutes.js"
export * as RequestBody from "./RequestBody.js"
export * as Progress from "./Progress.js"
export * as Runtime from "./Runtime.js"
export * as ServiceConfig from "./ServiceConfig.js"
export * as Tracing from "./Tracing.js"
export { launch, runMain } from "./Runtime.js"
export { InvalidConfiguration, loadConfig } from "./ServiceConfig.js"
