/**
 * The bootstrap flags of `bowline proxy` (bootstrap.ts parses them), apart from bootstrap.ts so that
 * parsing a `--config` run's command line does not load the control-plane client with it
 * (docs/performance.md, Memory).
 */

/** The bootstrap flags as parsed by util.parseArgs (all optional strings). */
export interface BootstrapFlags {
  server?: string;
  bootstrap?: string;
  id?: string;
  name?: string;
  namespace?: string;
  'service-account'?: string;
  labels?: string;
  service?: string[];
  'app-port'?: string;
  gateway?: boolean;
  'bind-port'?: string[];
  'outbound-port'?: string;
  address?: string;
  'bind-address'?: string;
  'endpoints-from'?: string;
  locality?: string;
  cluster?: string;
  network?: string;
  capture?: string;
  'workload-group'?: string;
}

/** The flags `bowline proxy` accepts for bootstrap (parseArgs option definitions). */
export const bootstrapFlagDefs = {
  server: { type: 'string' },
  bootstrap: { type: 'string' },
  id: { type: 'string' },
  name: { type: 'string' },
  namespace: { type: 'string' },
  'service-account': { type: 'string' },
  labels: { type: 'string' },
  service: { type: 'string', multiple: true },
  'app-port': { type: 'string' },
  gateway: { type: 'boolean' },
  'bind-port': { type: 'string', multiple: true },
  'outbound-port': { type: 'string' },
  address: { type: 'string' },
  'bind-address': { type: 'string' },
  'endpoints-from': { type: 'string' },
  locality: { type: 'string' },
  cluster: { type: 'string' },
  network: { type: 'string' },
  capture: { type: 'string' },
  'workload-group': { type: 'string' },
} as const;
