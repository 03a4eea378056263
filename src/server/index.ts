// Public API of `seal serve`: start the embedded log + CA + dev issuer in one process.

export { type RunningServer, type ServerOptions, startServer } from './server.js';
