// The server's public surface: start it over a ServerModel (see serve-model.ts for building one).
export { startServer } from './server.js';
export type { ServerModel, ServeOptions, RunningServer } from './server.js';
export { serverModel } from './serve-model.js';
export { Scheduler } from './scheduler.js';
export type { BatchForward, SchedulerOptions, SchedulerStats } from './scheduler.js';
export { HttpError, PROTOCOL_LIMITS } from './protocol.js';
