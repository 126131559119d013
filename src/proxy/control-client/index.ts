/** The proxy side of the push stream. */
export { ControlClient, parseServerAddress, type ControlClientEvent, type ControlClientOptions } from './client.js';
