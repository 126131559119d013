import { arr, en, int, map, obj, req, str, type CheckContext, type Path } from './dsl.js';
import { destination, exportTo, labels, labelsSelector, portNumber } from './common.js';
import { connectionPool } from './destination-rule.js';
import { serverTls } from './gateway.js';
import * as f from './formats.js';
import { isObj } from './walk.js';

const workloadEntryFields = {
  address: str(f.endpointAddress),
  ports: map(portNumber(), (k) => (f.portName(k) ? `port name "${k}" is invalid` : undefined), 'port names to numbers'),
  labels,
  network: str(),
  locality: str(),
  weight: int(0, 2 ** 32 - 1),
  serviceAccount: str(),
};
/** spec of a WorkloadEntry (also each ServiceEntry endpoint). */
export const workloadEntrySpec = obj('WorkloadEntry', workloadEntryFields, { check: (o, p, c) => checkWorkloadEntry(o, p, c, true) });
/** The template of a WorkloadGroup: a WorkloadEntry whose address comes when a VM joins. */
export const workloadTemplate = obj('WorkloadEntry', workloadEntryFields, { check: (o, p, c) => checkWorkloadEntry(o, p, c, false) });

/** Istio's WorkloadEntry rules: an address (or a network to reach it through); a unix socket has no ports. */
function checkWorkloadEntry(o: Record<string, unknown>, path: Path, ctx: CheckContext, needAddress: boolean): void {
  const addr = typeof o.address === 'string' ? o.address : '';
  if (needAddress && !addr && (o.network === undefined || o.network === '')) {
    ctx.add({ code: 'BOWLINE_E_API_ADDRESS', path, message: 'a workload entry needs an address (or a network whose gateway reaches it)' });
  }
  if (addr.startsWith('unix://')) {
    const rest = addr.slice(7);
    if (!rest.startsWith('/') && !rest.startsWith('@')) ctx.add({ code: 'BOWLINE_E_API_ADDRESS', path: [...path, 'address'], message: `unix socket address "${addr}" must be an absolute path (unix:///path) or an abstract socket (unix://@name)` });
    if (addr.endsWith('/')) ctx.add({ code: 'BOWLINE_E_API_ADDRESS', path: [...path, 'address'], message: `unix socket address "${addr}" names a directory` });
    if (isObj(o.ports) && Object.keys(o.ports).length > 0) ctx.add({ code: 'BOWLINE_E_API_ADDRESS', path: [...path, 'ports'], atKey: true, message: 'a unix socket address has no ports' });
  }
}

const servicePort = obj('ServicePort', { number: req(portNumber()), protocol: str(f.protocol), name: req(str(f.portName)), targetPort: portNumber() });

/** spec of a ServiceEntry. */
export const serviceEntrySpec = obj('ServiceEntrySpec', {
  hosts: req(arr(str(f.host))),
  addresses: arr(str(f.cidr)),
  ports: arr(servicePort),
  location: en('MESH_EXTERNAL', 'MESH_INTERNAL'),
  resolution: en('NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'),
  endpoints: arr(workloadEntrySpec),
  workloadSelector: labelsSelector,
  exportTo,
  subjectAltNames: arr(str()),
}, {
  oneOf: [['endpoints', 'workloadSelector']],
  check: (o, path, ctx) => {
    const res = o.resolution ?? 'NONE';
    const eps = Array.isArray(o.endpoints) ? o.endpoints : [];
    if (Array.isArray(o.hosts)) {
      o.hosts.forEach((h, i) => {
        if (h === '*') ctx.add({ code: 'BOWLINE_E_API_HOST', path: [...path, 'hosts', i], message: 'a ServiceEntry host cannot be "*": it would claim every host name', hint: 'name the hosts, e.g. "*.example.com"; for traffic to unknown hosts, the mesh outboundTrafficPolicy ALLOW_ANY already passes it through' });
      });
    }
    if (res === 'NONE' && o.endpoints !== undefined && o.endpoints !== null) {
      ctx.add({ code: 'BOWLINE_E_API_ENDPOINTS', path: [...path, 'endpoints'], atKey: true, message: 'resolution NONE forwards to the address the client asked for: endpoints cannot be set', hint: 'use resolution: STATIC (IP endpoints) or DNS (host name endpoints)' });
    }
    if (res === 'DNS_ROUND_ROBIN' && eps.length > 1) {
      ctx.add({ code: 'BOWLINE_E_API_ENDPOINTS', path: [...path, 'endpoints'], atKey: true, message: `resolution DNS_ROUND_ROBIN takes at most one endpoint, got ${eps.length}`, hint: 'use resolution: DNS for several endpoints' });
    }
    if (res !== 'NONE' && res !== 'STATIC' && Array.isArray(o.addresses)) {
      o.addresses.forEach((a, i) => {
        if (typeof a === 'string' && a.includes('/')) ctx.add({ code: 'BOWLINE_E_API_CIDR', path: [...path, 'addresses', i], message: `CIDR address "${a}" is only allowed with resolution NONE or STATIC, not ${String(res)}` });
      });
    }
    if (res === 'STATIC' && eps.length === 0 && !o.workloadSelector) {
      ctx.add({ code: 'BOWLINE_E_API_ENDPOINTS', path, message: 'resolution STATIC needs endpoints (or a workloadSelector)' });
    }
    if (res === 'STATIC') {
      eps.forEach((e, i) => {
        if (isObj(e) && typeof e.address === 'string' && !f.ipAddress(e.address) && !e.address.startsWith('unix://')) {
          ctx.add({ code: 'BOWLINE_E_API_ADDRESS', path: [...path, 'endpoints', i, 'address'], message: `resolution STATIC needs IP addresses, got "${e.address}"`, hint: 'use resolution: DNS for host names' });
        }
      });
    }
    if (Array.isArray(o.hosts) && (res === 'DNS' || res === 'DNS_ROUND_ROBIN') && eps.length === 0) {
      o.hosts.forEach((h, i) => {
        if (typeof h === 'string' && h.startsWith('*')) ctx.add({ code: 'BOWLINE_E_API_HOST', path: [...path, 'hosts', i], message: `resolution ${String(res)} without endpoints resolves each host by DNS: wildcard host "${h}" cannot be resolved`, hint: 'use resolution: NONE for wildcard hosts' });
      });
    }
    if (Array.isArray(o.ports)) {
      const nums = new Map<unknown, number>();
      const names = new Map<unknown, number>();
      o.ports.forEach((p, i) => {
        if (!isObj(p)) return;
        if (typeof p.name === 'string' && names.has(p.name)) ctx.add({ code: 'BOWLINE_E_API_DUPLICATE_PORT', path: [...path, 'ports', i, 'name'], message: `port name "${p.name}" is used twice (ports[${names.get(p.name)}])` });
        names.set(p.name, i);
        if (nums.has(p.number)) ctx.add({ code: 'BOWLINE_E_API_DUPLICATE_PORT', path: [...path, 'ports', i, 'number'], message: `port ${String(p.number)} is listed twice (ports[${nums.get(p.number)}])` });
        nums.set(p.number, i);
      });
    }
  },
});

const sidecarPort = obj('SidecarPort', { number: portNumber(), protocol: str(f.protocol), name: str(), targetPort: portNumber() });
const captureMode = en('DEFAULT', 'IPTABLES', 'NONE');

/** spec of a Sidecar. */
export const sidecarSpec = obj('SidecarSpec', {
  workloadSelector: labelsSelector,
  ingress: arr(obj('IstioIngressListener', { port: req(sidecarPort), bind: str(), captureMode, defaultEndpoint: str(), tls: serverTls, connectionPool })),
  egress: arr(obj('IstioEgressListener', { port: sidecarPort, bind: str(), captureMode, hosts: req(arr(str(f.sidecarHost))) })),
  inboundConnectionPool: connectionPool,
  outboundTrafficPolicy: obj('OutboundTrafficPolicy', { mode: en('REGISTRY_ONLY', 'ALLOW_ANY'), egressProxy: destination }),
});
