import { describe, expect, it } from 'vitest';
import { bundleFiles, parseBundlePort, parseEnv } from './bundle.js';
import { joinPlan, leavePlan, type ReadBundle } from './join.js';
import { renderPlan } from './plan.js';

const files = bundleFiles({
  group: 'mysql', namespace: 'onprem', serviceAccount: 'mysql', labels: { app: 'mysql', version: 'v1' },
  ports: [parseBundlePort('mysql:3306'), parseBundlePort('http:8080/http')], discoveryAddress: '10.0.0.5:15012', trustDomain: 'cluster.local',
  rootCertPem: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----', token: 'a.b.c', tokenExpiresAt: '2030-01-01T00:00:00.000Z', version: '0.1.0', workloadGroupYaml: 'kind: WorkloadGroup\n',
});
const file = (n: string) => files.find((f) => f.name === n)!;
const bundle: ReadBundle = { env: parseEnv(file('bowline.env').content), envText: file('bowline.env').content, rootCertPem: file('root-cert.pem').content, token: 'a.b.c', meshYaml: file('mesh.yaml').content };
const opts = { root: '', address: '10.0.0.9', node: '/usr/bin/node', bowline: '/usr/lib/node_modules/bowline/bin/bowline', user: 'bowline-proxy', userExists: false, systemd: true };

describe('vm bundle and join plans', () => {
  it('the bundle carries Istio cluster.env keys and Bowline settings; the token is 0600', () => {
    expect(bundle.env).toMatchObject({ ISTIO_NAMESPACE: 'onprem', SERVICE_ACCOUNT: 'mysql', ISTIO_INBOUND_PORTS: '3306,8080', ISTIO_META_DNS_CAPTURE: 'true', BOWLINE_PORTS: 'mysql:3306/TCP,http:8080/HTTP', BOWLINE_DISCOVERY_ADDRESS: '10.0.0.5:15012' });
    expect(file('token').mode).toBe(0o600);
    expect(() => parseBundlePort('mysql')).toThrow(/NAME:PORT/);
  });

  it('join: user, /etc/bowline, the unit (absolute paths, capture before start, the proxy as its user), systemctl', () => {
    const plan = joinPlan(bundle, opts);
    const text = renderPlan(plan.steps);
    expect(text).toMatch(/^# run: useradd --system .* bowline-proxy$/m);
    expect(text).toContain('# file: /etc/bowline/token (0600, owner bowline-proxy)\na.b.c');
    expect(text).toContain('# run: install -d -m 0700 -o bowline-proxy /etc/bowline/identity');
    expect(text).toContain('BOWLINE_WORKLOAD_ADDRESS=10.0.0.9');
    expect(text).toContain('# run: systemctl enable --now bowline-proxy.service');
    expect(plan.unit).toContain('ExecStartPre=+/usr/bin/node /usr/lib/node_modules/bowline/bin/bowline capture install --proxy-uid bowline-proxy --proxy-gid bowline-proxy --include-inbound-ports 3306,8080 --dns');
    expect(plan.unit).toMatch(/^ExecStart=\/usr\/bin\/node --single-threaded-gc --v8-pool-size=1 --max-semi-space-size=4 --no-sparkplug \S+ proxy --server 10.0.0.5:15012 --name mysql --namespace onprem --service-account mysql --workload-group mysql --id mysql-10.0.0.9.onprem --address 10.0.0.9 --capture iptables/m);
    expect(plan.unit).toContain('--service mysql:3306/TCP --service mysql:8080/HTTP --token-file /etc/bowline/token --ca-cert-file /etc/bowline/root-cert.pem --identity-dir /etc/bowline/identity');
    expect(plan.unit).toContain('User=bowline-proxy');
  });

  it('--root prefixes where files go, not the paths in the unit; --no-systemd runs capture instead of systemctl', () => {
    const plan = joinPlan(bundle, { ...opts, root: '/img', userExists: true, systemd: false });
    const text = renderPlan(plan.steps);
    expect(text).not.toContain('useradd');
    expect(text).toContain('# file: /img/etc/bowline/bowline.env (0644)');
    expect(text).not.toContain('systemctl');
    expect(text).toContain('bowline capture install --proxy-uid bowline-proxy');
    expect(plan.unit).toContain('--token-file /etc/bowline/token');
    expect(plan.proxyArgsHere).toContain('/img/etc/bowline/token');
  });

  it('leave undoes join: unit, capture rules, /etc/bowline, the user', () => {
    const text = renderPlan(leavePlan({ root: '', node: '/usr/bin/node', bowline: '/b', user: 'bowline-proxy', userExists: true, unitExists: true }));
    expect(text.trim().split('\n')).toEqual([
      '# run: systemctl disable --now bowline-proxy.service',
      '# run: rm -rf /etc/systemd/system/bowline-proxy.service',
      '# run: systemctl daemon-reload',
      '# run: /usr/bin/node /b capture clean',
      '# run: rm -rf /etc/bowline',
      '# run: userdel bowline-proxy',
    ]);
  });
});
