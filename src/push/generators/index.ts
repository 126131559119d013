/** All generators, and the whole proxy config of one proxy (golden tests, config_dump). */
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { ProxyConfig, ResourceType } from '../../proxy-config/types.js';
import { authorizationGenerator } from './authorization.js';
import { clustersGenerator } from './clusters.js';
import { endpointsGenerator } from './endpoints.js';
import { generateAll, type Generator, type ProxyInfo } from './generator.js';
import { listenersGenerator } from './listeners.js';
import { meshGenerator } from './mesh.js';
import { namesGenerator } from './names.js';
import { routesGenerator } from './routes.js';
import { secretsGenerator } from './secrets.js';

export type { Generator, OutputPart, ProxyInfo } from './generator.js';

/** One generator per resource type. */
export const generators: Readonly<Record<ResourceType, Generator>> = {
  mesh: meshGenerator,
  secrets: secretsGenerator,
  clusters: clustersGenerator,
  endpoints: endpointsGenerator,
  listeners: listenersGenerator,
  routes: routesGenerator,
  authorization: authorizationGenerator,
  names: namesGenerator,
};

/** The complete configuration of one proxy for a snapshot (uncached; the push server caches per part). */
export function generateProxyConfig(snap: MeshSnapshot, proxy: ProxyInfo): ProxyConfig {
  const all = (t: ResourceType) => generateAll(generators[t], snap, proxy);
  const cfg: ProxyConfig = {
    node: proxy.node,
    mesh: all('mesh')[0] as ProxyConfig['mesh'],
    listeners: all('listeners') as ProxyConfig['listeners'],
    routes: all('routes') as ProxyConfig['routes'],
    clusters: all('clusters') as ProxyConfig['clusters'],
    endpoints: all('endpoints') as ProxyConfig['endpoints'],
    secrets: all('secrets') as ProxyConfig['secrets'],
  };
  const authz = all('authorization')[0];
  if (authz) cfg.authorization = authz as ProxyConfig['authorization'];
  const names = all('names') as NonNullable<ProxyConfig['names']>;
  if (names.length > 0) cfg.names = names;
  return cfg;
}
