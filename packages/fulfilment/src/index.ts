export * from "./Fulfilment.js"
export * from "./OrderEvents.js"
export * from "./Plan.js"
export * from "./Policy.js"
