import { describe, expect, it } from 'vitest';
import { defaultMeshConfig } from '../../api/index.js';
import type { Resource } from '../../api/types/meta.js';
import { buildSnapshot } from '../../model/snapshot.js';
import { mergeViews } from '../../registry/registry.js';
import { serviceEntryView } from '../../registry/serviceentry/serviceentry.js';
import { announcementsView } from '../../registry/universal/universal.js';
import { validateProxyConfig } from '../../proxy-config/validate.js';
import { bookinfoWorkloads, productpageProxy } from '../testdata/bookinfo.js';
import { generateProxyConfig } from './index.js';

const r = (kind: string, name: string, ns: string, spec: unknown): Resource => ({ apiVersion: 'networking.istio.io/v1', kind: kind as Resource['kind'], metadata: { name, namespace: ns }, spec });
const domains = { clusterDomain: 'cluster.local', extraDomains: ['mesh.example'] };

function snap(configs: Resource[], vip = (h: string) => `240.240.0.${h.length}`) {
  const universal = announcementsView(bookinfoWorkloads.map((a) => ({ proxyId: a.name, announcement: a })), domains);
  const se = serviceEntryView(configs.filter((c) => c.kind === 'ServiceEntry'), []);
  const view = mergeViews([universal, se]);
  // What VipAllocator.assign does (src/mesh/vips.ts), with a fixed address per host.
  view.services = view.services.map((s) => (s.addresses?.length || s.resolution === 'NONE' || s.hostname.startsWith('*') ? s : { ...s, vip: vip(s.hostname) }));
  return buildSnapshot({ configs, ...view, mesh: defaultMeshConfig(), domains });
}

const entries = [
  r('ServiceEntry', 'db', 'default', { hosts: ['db.example.mesh'], addresses: ['10.77.5.6'], ports: [{ number: 3306, name: 'tcp', protocol: 'TCP' }], resolution: 'STATIC', endpoints: [{ address: '10.1.1.1' }] }),
  r('ServiceEntry', 'ext', 'default', { hosts: ['api.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS' }),
  r('ServiceEntry', 'wild', 'default', { hosts: ['*.wild.example'], addresses: ['10.9.9.9'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'NONE' }),
  r('ServiceEntry', 'cidr', 'default', { hosts: ['range.example'], addresses: ['10.8.0.0/16'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'NONE' }),
  r('ServiceEntry', 'pass', 'default', { hosts: ['pass.example'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'NONE' }),
];

describe('the name table pushed to sidecars', () => {
  it('names every visible service by host, global aliases, and its short name in its own namespace', () => {
    const cfg = generateProxyConfig(snap(entries), productpageProxy);
    const reviews = cfg.names!.find((n) => n.name === 'reviews.default.svc.cluster.local')!;
    expect(reviews.addresses).toEqual([`240.240.0.${'reviews.default.svc.cluster.local'.length}`]);
    expect(reviews.aliases).toEqual(expect.arrayContaining(['reviews.default', 'reviews.default.svc', 'reviews.default.svc.mesh.example', 'reviews']));
    expect(validateProxyConfig(cfg).errors).toEqual([]);
  });

  it('answers ServiceEntry addresses, allocated VIPs and wildcards; leaves out CIDR ranges and pass-through hosts', () => {
    const names = generateProxyConfig(snap(entries), productpageProxy).names!;
    const by = (n: string) => names.find((e) => e.name === n);
    expect(by('db.example.mesh')?.addresses).toEqual(['10.77.5.6']);
    expect(by('api.example.com')?.addresses).toEqual([`240.240.0.${'api.example.com'.length}`]);
    expect(by('*.wild.example')?.addresses).toEqual(['10.9.9.9']);
    expect(by('range.example')).toBeUndefined();
    expect(by('pass.example')).toBeUndefined();
  });

  it('a sidecar in another namespace gets no short names of default, and a Sidecar narrows the table', () => {
    const other = { ...productpageProxy, node: { ...productpageProxy.node, id: 'x.other', namespace: 'other' } };
    const reviews = generateProxyConfig(snap(entries), other).names!.find((n) => n.name === 'reviews.default.svc.cluster.local')!;
    expect(reviews.aliases).not.toContain('reviews');
    expect(reviews.aliases).toContain('reviews.default');
    const narrowed = generateProxyConfig(snap([...entries, r('Sidecar', 'default', 'default', { egress: [{ hosts: ['./reviews'] }] })]), productpageProxy);
    expect(narrowed.names!.map((n) => n.name)).toEqual(['reviews.default.svc.cluster.local']);
  });
});
