// A small mesh for end-to-end tests of Istio semantics: `bowline up` (CA, TLS push stream),
// in-test apps on port 0, sidecars started from bootstrap tokens with their ports read from
// --ports-file, `bowline apply` for YAML, and calls through a client sidecar's outbound listener.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readPortsFile } from '../../src/cli/ports-file.js';
import { startBowline, type Child } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { tempDir } from '../support/temp.js';

/** A sidecar of the test mesh and the ports it bound. */
export interface Sidecar {
  child: Child;
  outbound: number;
  inbound: number;
  admin: number;
}

/** One running test mesh. */
export class TestMesh {
  readonly home = tempDir('bowline-e2e-mesh-');
  api = '';
  private pushTls = 0;
  /** The plaintext push port (proxies without a token connect to it when `up` got `--push-plaintext`). */
  private pushPlain = 0;
  private readonly children: Child[] = [];
  private readonly servers: http.Server[] = [];
  /** The control plane process (its output holds the control plane's log). */
  cp?: Child;

  /** Starts the control plane. */
  async up(extra: string[] = []): Promise<void> {
    const portsFile = join(this.home, 'cp.ports.json');
    const cp = startBowline(['up', '--home', this.home, '--listen-api', '127.0.0.1:0', '--listen-push', '127.0.0.1:0', '--listen-push-tls', '127.0.0.1:0', '--ports-file', portsFile, ...extra], { env: { BOWLINE_HOME: this.home } });
    this.children.push(cp);
    this.cp = cp;
    await waitFor(() => cp.output().includes('control plane ready'), { timeoutMs: 20_000, what: () => `bowline up:\n${cp.output()}` });
    const ports = JSON.parse(readFileSync(portsFile, 'utf8')) as { api: number; push: number; pushTls: number };
    this.api = `http://127.0.0.1:${ports.api}`;
    this.pushTls = ports.pushTls;
    this.pushPlain = ports.push;
  }

  /** Runs a one-shot CLI command against this mesh; resolves with its exit code and output. */
  async cli(args: string[]): Promise<{ code: number; out: string }> {
    const c = startBowline([...args, '--server', this.api], { env: { BOWLINE_HOME: this.home } });
    const code = (await c.exited()) ?? -1; // (its output read to the end, not only its exit seen)
    return { code, out: c.output() };
  }

  /** `bowline apply -f` of `yaml`; resolves with the CLI's exit code and output. */
  async apply(name: string, yaml: string): Promise<{ code: number; out: string }> {
    const file = join(this.home, `${name}.yaml`);
    writeFileSync(file, yaml);
    return this.cli(['apply', '-f', file]);
  }

  /** An app on a kernel-chosen port answering `NAME METHOD PATH` (or as `handler` says). */
  async app(name: string, handler?: http.RequestListener): Promise<number> {
    const s = http.createServer(handler ?? ((req, res) => res.end(`${name} ${req.method} ${req.url}`)));
    this.servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  }

  /** A sidecar `name` for service `service` (default `name`, port `svcPort`) of namespace `ns`, service account `sa`, in front of
   *  a new in-test app (answering as `app` says when it is a handler), or of the app already listening on port `app`;
   *  `extra` proxy flags win over the defaults; `env` is added to the proxy's environment. */
  async sidecar(name: string, ns: string, sa: string, svcPort: number, labels = `app=${name}`, service = name, extra: string[] = [], app?: http.RequestListener | number, env?: NodeJS.ProcessEnv): Promise<Sidecar> {
    const appPort = typeof app === 'number' ? app : await this.app(name, app);
    const t = await this.cli(['token', 'create', '--namespace', ns, '--service-account', sa, '--ttl', '10m']);
    if (t.code !== 0) throw new Error(t.out);
    const tokenFile = join(this.home, `${name}.token`);
    writeFileSync(tokenFile, t.out.split('\n').find((l) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(l.trim()))!.trim() + '\n');
    const c = startBowline(['proxy', '--server', `127.0.0.1:${this.pushTls}`, '--token-file', tokenFile, ...this.proxyArgs(name, svcPort, labels, service, appPort), ...extra], env ? { env } : {});
    this.children.push(c);
    await waitFor(() => c.output().includes(`workload certificate for spiffe://cluster.local/ns/${ns}/sa/${sa}`), { timeoutMs: 15_000, what: () => `${name} certificate:\n${c.output()}` });
    return this.bound(name, c);
  }

  /** A sidecar as `sidecar` starts it but without a bootstrap token: no workload certificate, on the plaintext push
   *  port (`up(['--push-plaintext'])`). */
  async sidecarWithoutCertificate(name: string, ns: string, sa: string, svcPort: number, labels = `app=${name}`, service = name): Promise<Sidecar> {
    const appPort = await this.app(name);
    const c = startBowline(['proxy', '--server', `127.0.0.1:${this.pushPlain}`, '--namespace', ns, '--service-account', sa, ...this.proxyArgs(name, svcPort, labels, service, appPort)]);
    this.children.push(c);
    return this.bound(name, c);
  }

  private proxyArgs(name: string, svcPort: number, labels: string, service: string, appPort: number): string[] {
    return ['--name', name, '--labels', labels, '--admin-port', '0', '--metrics-port', '0', '--telemetry', 'off',
      '--service', `${service}:${svcPort}@${appPort}`, '--bind-port', `${svcPort}=0`, '--outbound-port', 'auto', '--ports-file', join(this.home, `${name}.ports.json`)];
  }

  /** The ports a started sidecar bound, once its ports file lists them. */
  private async bound(name: string, c: Child): Promise<Sidecar> {
    const portsFile = join(this.home, `${name}.ports.json`);
    const ports = await waitFor(() => {
      const p = readPortsFile(portsFile, ['admin']) as unknown as { admin?: number; listeners?: Record<string, number> } | undefined;
      const l = p?.listeners ?? {};
      const inbound = Object.entries(l).find(([k]) => k.startsWith('inbound'))?.[1];
      const outbound = l.outbound;
      return outbound && inbound ? { outbound, inbound, admin: p!.admin ?? 0 } : undefined;
    }, { timeoutMs: 15_000, what: `${name} ports file` });
    return { child: c, outbound: ports!.outbound!, inbound: ports!.inbound!, admin: ports!.admin ?? 0 };
  }

  /** Stops everything this mesh started. */
  async down(): Promise<void> {
    for (const c of this.children.reverse()) await c.stop();
    for (const s of this.servers) s.close();
  }
}

/** One HTTP request to 127.0.0.1:`port` (absolute-form `url` for an outbound listener, a path for an inbound one). */
export function call(port: number, url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const host = url.startsWith('http') ? new URL(url).host : 'localhost';
    const req = http.request({ host: '127.0.0.1', port, path: url, method: opts.method ?? 'GET', headers: { host, ...opts.headers }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

/** Waits until `url` through `port` answers `status` (20 s at most). */
export function settle(port: number, url: string, status: number, headers?: Record<string, string>): Promise<unknown> {
  return waitFor(async () => (await call(port, url, headers ? { headers } : {})).status === status, { timeoutMs: 20_000, what: `${url} via ${port} -> ${status}` });
}
