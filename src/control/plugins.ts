import type { ControlPlane } from './control-plane.js';

/**
 * A part of the control plane that starts with it (push server, registries, CA ...). `start`
 * runs after the store, the mesh config and the API listener are up, in list order; it mounts
 * HTTP handlers with `cp.addHandler`, reports its listening port in `cp.ports`, and registers
 * cleanup with `cp.onShutdown` (run in reverse order on close).
 */
export interface ControlPlanePlugin {
  name: string;
  start(cp: ControlPlane): Promise<void> | void;
}

/**
 * The plugins `bowline up` starts by default, loaded lazily. To add one: ONE line here, e.g.
 * `{ name: 'push', load: async () => (await import('../push/plugin.js')).plugin }`.
 */
export const builtinPlugins: Array<{ name: string; load: () => Promise<ControlPlanePlugin> }> = [
  { name: 'ca', load: async () => (await import('../ca/plugin.js')).plugin },
  { name: 'push', load: async () => (await import('../push/plugin.js')).plugin },
  { name: 'explain', load: async () => (await import('./explain/plugin.js')).plugin },
  { name: 'dashboard', load: async () => (await import('../dashboard/plugin.js')).plugin },
];
