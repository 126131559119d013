/**
 * The name table of a sidecar's DNS proxy (Istio's NameTable for DNS capture): every service the
 * proxy may call, by its host, its global aliases (`name.ns`, `name.ns.svc`, extra domains) and,
 * for services of the proxy's own namespace, its short name; answered with the service's
 * addresses, or the virtual IP the control plane allocated (src/mesh/vips.ts). Services with
 * neither (CIDR-only addresses, pass-through ServiceEntries) are left out: their queries are
 * forwarded to the host's resolvers.
 */
import { isIP } from 'node:net';
import type { Service } from '../../model/service.js';
import type { MeshSnapshot } from '../../model/snapshot.js';
import type { NameEntry } from '../../proxy-config/types.js';
import type { Generator, ProxyInfo } from './generator.js';
import { outboundScope, visibleServices } from './scope.js';

/** The addresses a name resolves to: single-host `addresses` (a /32 or /128 counts), else the allocated VIP. */
export function serviceAddresses(svc: Service): string[] {
  const out: string[] = [];
  for (const a of svc.addresses ?? []) {
    const [ip, bits] = a.split('/');
    if (!ip || isIP(ip) === 0) continue;
    if (bits === undefined || Number(bits) === (isIP(ip) === 4 ? 32 : 128)) out.push(ip);
  }
  if (out.length === 0 && (svc.addresses ?? []).length === 0 && svc.vip) out.push(svc.vip);
  return out;
}

function nameTable(snap: MeshSnapshot, proxy: ProxyInfo): NameEntry[] {
  const out: NameEntry[] = [];
  const seen = new Set<string>();
  for (const svc of visibleServices(snap, proxy)) {
    const addresses = serviceAddresses(svc);
    if (addresses.length === 0 || seen.has(svc.hostname)) continue;
    seen.add(svc.hostname);
    const local = svc.namespace === proxy.node.namespace ? svc.localAliases : [];
    const aliases = [...new Set([...svc.aliases, ...local])].filter((a) => a !== svc.hostname);
    out.push(aliases.length ? { name: svc.hostname, aliases, addresses } : { name: svc.hostname, addresses });
  }
  return out;
}

/** Generates the name table (one resource per host; shared by the sidecars of one namespace and Sidecar scope). */
export const namesGenerator: Generator = {
  type: 'names',
  kinds: ['services', 'Sidecar'],
  parts: (snap, proxy) => [{ scope: `names|${proxy.node.role}|${outboundScope(snap, proxy)}`, build: () => nameTable(snap, proxy) }],
};
