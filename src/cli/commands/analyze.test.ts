// `bowline analyze` per code: for each, a file that triggers it and one that does not (offline,
// files only), the codes that need the registry on a live mesh view, and the exit codes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultMeshConfig } from '../../api/index.js';
import type { Resource } from '../../api/types/meta.js';
import { analysisSnapshot, analyzeMesh, type LiveMesh } from '../../push/analysis/index.js';
import { announcementsView, type Announcement } from '../../registry/universal/universal.js';
import { parseAllDocuments } from 'yaml';
import { runAnalyze } from './analyze.js';
import { tempDir } from '../../../test/support/temp.js';

const dir = tempDir('bowline-analyze-');
let n = 0;
function file(text: string): string {
  const f = join(dir, `case-${n++}.yaml`);
  writeFileSync(f, text);
  return f;
}

async function analyze(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAnalyze(args, { stdout: (s) => (out += s), stderr: (s) => (err += s), readStdin: async () => '' });
  return { code, out, err };
}

const vs = (name: string, spec: string) => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ${name}\n  namespace: default\nspec:\n${spec}`;
const dr = (name: string, spec: string) => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: ${name}\n  namespace: default\nspec:\n${spec}`;
const gw = (name: string, spec: string) => `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: ${name}\n  namespace: default\nspec:\n${spec}`;
const REVIEWS_DR = dr('reviews', '  host: reviews\n  subsets:\n  - name: v1\n    labels: {version: v1}\n  - name: v2\n    labels: {version: v2}\n');
const GATEWAY = gw('web', '  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["bookinfo.example.com"]\n');
const INGRESS = `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: ingress-1\n  namespace: default\nspec:\n  address: 10.0.0.9\n  labels: {istio: ingressgateway}\n---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: ingress\n  namespace: default\nspec:\n  hosts: [ingress.example.internal]\n  location: MESH_INTERNAL\n  resolution: STATIC\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n  workloadSelector:\n    labels: {istio: ingressgateway}\n`;

const cases: Array<{ code: string; bad: string; good: string; level: string }> = [
  { code: 'IST0101', level: 'Error', bad: vs('r', '  hosts: [reviews]\n  gateways: [nosuch]\n  http:\n  - route:\n    - destination: {host: reviews}\n'), good: `${GATEWAY}---\n${vs('r', '  hosts: [bookinfo.example.com]\n  gateways: [web]\n  http:\n  - route:\n    - destination: {host: reviews}\n')}` },
  { code: 'IST0104', level: 'Warning', bad: `${INGRESS}---\n${gw('web', '  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 8004, name: http, protocol: HTTP}\n    hosts: ["*"]\n')}`, good: `${INGRESS}---\n${gw('web', '  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n')}` },
  { code: 'IST0109', level: 'Error', bad: `${vs('a', '  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n')}---\n${vs('b', '  hosts: [reviews.default.svc.cluster.local]\n  http:\n  - route:\n    - destination: {host: reviews}\n')}`, good: `${vs('a', '  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n')}---\n${vs('b', '  hosts: [ratings]\n  http:\n  - route:\n    - destination: {host: ratings}\n')}` },
  { code: 'IST0128', level: 'Warning', bad: dr('ext', '  host: api.example.com\n  trafficPolicy:\n    tls: {mode: SIMPLE}\n'), good: dr('ext', '  host: api.example.com\n  trafficPolicy:\n    tls: {mode: SIMPLE, caCertificates: /etc/ca.pem}\n') },
  { code: 'IST0129', level: 'Warning', bad: dr('ext', '  host: api.example.com\n  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 443}\n      tls: {mode: SIMPLE, insecureSkipVerify: true}\n'), good: dr('ext', '  host: api.example.com\n  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 443}\n      tls: {mode: SIMPLE, caCertificates: /etc/ca.pem}\n') },
  { code: 'IST0130', level: 'Warning', bad: `${REVIEWS_DR}---\n${vs('r', '  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n  - match:\n    - headers: {end-user: {exact: jason}}\n    route:\n    - destination: {host: reviews, subset: v2}\n')}`, good: `${REVIEWS_DR}---\n${vs('r', '  hosts: [reviews]\n  http:\n  - match:\n    - headers: {end-user: {exact: jason}}\n    route:\n    - destination: {host: reviews, subset: v2}\n  - route:\n    - destination: {host: reviews, subset: v1}\n')}` },
  { code: 'IST0131', level: 'Info', bad: `${REVIEWS_DR}---\n${vs('r', '  hosts: [reviews]\n  http:\n  - match:\n    - headers: {end-user: {exact: jason}}\n    route:\n    - destination: {host: reviews, subset: v2}\n  - match:\n    - headers: {end-user: {exact: jason}}\n    route:\n    - destination: {host: reviews, subset: v1}\n  - route:\n    - destination: {host: reviews, subset: v1}\n')}`, good: `${REVIEWS_DR}---\n${vs('r', '  hosts: [reviews]\n  http:\n  - match:\n    - headers: {end-user: {exact: jason}}\n    route:\n    - destination: {host: reviews, subset: v2}\n  - match:\n    - headers: {end-user: {exact: mary}}\n    route:\n    - destination: {host: reviews, subset: v1}\n')}` },
  { code: 'IST0132', level: 'Warning', bad: `${GATEWAY}---\n${vs('r', '  hosts: [wrong.example.com]\n  gateways: [web]\n  http:\n  - route:\n    - destination: {host: productpage}\n')}`, good: `${GATEWAY}---\n${vs('r', '  hosts: [bookinfo.example.com]\n  gateways: [web]\n  http:\n  - route:\n    - destination: {host: productpage}\n')}` },
  { code: 'BOWLINE_W_ANALYZE_ZERO_WEIGHT', level: 'Warning', bad: `${REVIEWS_DR}---\n${vs('r', '  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 100\n    - destination: {host: reviews, subset: v2}\n      weight: 0\n')}`, good: `${REVIEWS_DR}---\n${vs('r', '  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 50\n    - destination: {host: reviews, subset: v2}\n      weight: 50\n')}` },
];

describe('bowline analyze on files: each code, triggered and not', () => {
  for (const c of cases) {
    it(`${c.code} (${c.level})`, async () => {
      const bad = await analyze('-f', file(c.bad), '-o', 'json');
      const items = JSON.parse(bad.out) as Array<{ code: string; level: string; reference?: string }>;
      const hit = items.filter((i) => i.code === c.code);
      expect(hit.length, bad.out).toBeGreaterThan(0);
      expect(hit[0]!.level).toBe(c.level);
      expect(hit[0]!.reference).toMatch(/case-\d+\.yaml:\d+$/);
      expect(bad.code).toBe(items.some((i) => i.level === 'Error') ? 79 : 0);
      const good = await analyze('-f', file(c.good), '-o', 'json');
      expect((JSON.parse(good.out) as Array<{ code: string }>).filter((i) => i.code === c.code), good.out).toEqual([]);
    });
  }

  it('IST0101 for a subset no DestinationRule defines; exit 79 and the text format', async () => {
    const r = await analyze('-f', file(vs('r', '  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v9}\n')));
    expect(r.code).toBe(79);
    expect(r.out).toMatch(/^Error \[IST0101\] \(VirtualService r\.default \S+case-\d+\.yaml:1\) subset "v9" of reviews is not defined by any DestinationRule/m);
    expect(r.err).toContain('1 error(s)');
  });

  it('IST0106 for a schema violation; a file that does not parse is reported as validate reports it; a clean file: exit 0', async () => {
    const schema = await analyze('-f', file(vs('r', '  hosts: [reviews]\n  http:\n  - timeout: banana\n    route:\n    - destination: {host: reviews}\n')));
    expect(schema.code).toBe(79);
    expect(schema.out).toMatch(/^Error \[IST0106\] \(\S+case-\d+\.yaml:\d+:\d+\) spec\.http\[0\]\.timeout: .*\(BOWLINE_E_/m);
    const broken = file('apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x\n');
    const parse = await analyze('-f', broken);
    expect(parse.code).toBe(79);
    expect(parse.out).toMatch(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+ BOWLINE_E_`, 'm'));
    const clean = await analyze('-f', file(`${REVIEWS_DR}`));
    expect(clean).toMatchObject({ code: 0, err: '' });
    expect(clean.out).toContain('No issues found');
  });

  it('usage errors exit through UsageError', async () => {
    await expect(analyze('-o', 'xml', '-f', file(REVIEWS_DR))).rejects.toThrow('-o must be');
    await expect(analyze('-n', 'a', '-A', '-f', file(REVIEWS_DR))).rejects.toThrow('cannot be used together');
  });
});

// The codes that need the registry: a live mesh view built from real registry announcements.
describe('bowline analyze on a live mesh view', () => {
  let port = 30000;
  const wl = (app: string, version: string, portName = 'http'): Announcement => ({ name: `${app}-${version}`, namespace: 'default', serviceAccount: app, labels: { app, version }, address: '127.0.0.1', services: [{ service: app, port: 9080, protocol: 'HTTP', targetPort: port++, name: portName } as Announcement['services'][number]] });
  const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Resource);
  function live(configs: Resource[], extra: Announcement[] = []): LiveMesh {
    const view = announcementsView([wl('reviews', 'v1'), wl('ratings', 'v1'), wl('productpage', 'v1'), ...extra].map((a) => ({ proxyId: `${a.name}.${a.namespace}`, announcement: a })));
    return { configs, ...view, mesh: defaultMeshConfig() };
  }
  const codes = (m: LiveMesh, files: Resource[] = []) => analyzeMesh(analysisSnapshot(files, m), true).map((f) => f.code);

  it('IST0101 for a destination host the mesh does not know (only live)', () => {
    const bad = docs(vs('r', '  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reveiws}\n'));
    expect(codes(live(bad))).toContain('IST0101');
    expect(codes(live(docs(vs('r', '  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n'))))).not.toContain('IST0101');
  });

  it('IST0118 for a service port whose name does not say its protocol', () => {
    expect(analyzeMesh(analysisSnapshot([], live([], [wl('legacy', 'v1', 'web')])), true).find((f) => f.code === 'IST0118')).toMatchObject({ kind: 'Service', name: 'legacy', level: 'Info' });
    expect(codes(live([]))).not.toContain('IST0118');
  });

  it('BOWLINE_E_ANALYZE_MTLS_CONFLICT on the DestinationRule of a STRICT + DISABLE pair; files checked against the live mesh', () => {
    const strict = docs('apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec:\n  mtls: {mode: STRICT}\n');
    const disable = docs(dr('reviews', '  host: reviews\n  trafficPolicy:\n    tls: {mode: DISABLE}\n'));
    const f = analyzeMesh(analysisSnapshot(disable, live(strict)), true).find((x) => x.code === 'BOWLINE_E_ANALYZE_MTLS_CONFLICT');
    expect(f).toMatchObject({ kind: 'DestinationRule', name: 'reviews', level: 'Error' });
    expect(f!.message).toContain('ISTIO_MUTUAL');
    expect(codes(live(strict))).not.toContain('BOWLINE_E_ANALYZE_MTLS_CONFLICT');
  });

  it('BOWLINE_W_ANALYZE_SUBSET_NO_ENDPOINTS for a subset whose labels match no endpoint', () => {
    expect(codes(live(docs(dr('reviews', '  host: reviews\n  subsets:\n  - name: v9\n    labels: {version: v9}\n'))))).toContain('BOWLINE_W_ANALYZE_SUBSET_NO_ENDPOINTS');
    expect(codes(live(docs(dr('reviews', '  host: reviews\n  subsets:\n  - name: v1\n    labels: {version: v1}\n'))))).not.toContain('BOWLINE_W_ANALYZE_SUBSET_NO_ENDPOINTS');
  });

  it('BOWLINE_W_ANALYZE_SELECTS_NOTHING for a policy whose selector matches no workload', () => {
    const ap = (app: string) => docs(`apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: default}\nspec:\n  selector:\n    matchLabels: {app: ${app}}\n  action: DENY\n  rules: [{}]\n`);
    expect(codes(live(ap('reveiws')))).toContain('BOWLINE_W_ANALYZE_SELECTS_NOTHING');
    expect(codes(live(ap('reviews')))).not.toContain('BOWLINE_W_ANALYZE_SELECTS_NOTHING');
  });
});
