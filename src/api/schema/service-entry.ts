import { arr, en, int, map, obj, req, str } from './dsl.js';
import { destination, exportTo, labels, labelsSelector, portNumber } from './common.js';
import { connectionPool } from './destination-rule.js';
import { serverTls } from './gateway.js';
import * as f from './formats.js';
import { isObj } from './walk.js';

/** spec of a WorkloadEntry (also each ServiceEntry endpoint). */
export const workloadEntrySpec = obj('WorkloadEntry', {
  address: str(f.endpointAddress),
  ports: map(portNumber(), (k) => (f.portName(k) ? `port name "${k}" is invalid` : undefined), 'port names to numbers'),
  labels,
  network: str(),
  locality: str(),
  weight: int(0, 2 ** 32 - 1),
  serviceAccount: str(),
});

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
      o.ports.forEach((p, i) => {
        if (!isObj(p)) return;
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
