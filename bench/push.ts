/**
 * `npm run bench -- push [--quick] [--json]`: the control plane with 1000 services and 5000
 * endpoints, N simulated proxies (default 2000; real push streams in a few worker processes),
 * then VirtualService writes: the time from each write to every proxy's ACK (p50, p99, max),
 * the control plane's RSS and CPU seconds. The control plane runs in this process (the store,
 * the registries, the controller, the push server: what `bowline up` runs); the proxies do not.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultMeshConfig } from '../src/api/index.js';
import { serviceAliases, serviceHostname, type Endpoint, type Service } from '../src/model/service.js';
import { MeshController } from '../src/mesh/controller.js';
import { PushServer } from '../src/push/server/server.js';
import { AggregateRegistry, ChangeNotifier, type Registry, type RegistryView } from '../src/registry/registry.js';
import { UniversalRegistry } from '../src/registry/universal/universal.js';
import { openEmbeddedStore } from '../src/store/index.js';

/** A fixed registry of `services` services with `perService` endpoints each (the mesh under test). */
function staticRegistry(services: number, perService: number): Registry {
  const view: RegistryView = { services: [], endpoints: [], workloads: [] };
  for (let s = 0; s < services; s++) {
    const name = `svc-${s}`;
    const svc: Service = { hostname: serviceHostname(name, 'default'), name, namespace: 'default', ...serviceAliases(name, 'default'), ports: [{ name: 'http', port: 8080, protocol: 'HTTP' }], resolution: 'STATIC', location: 'MESH_INTERNAL', source: 'bench' };
    view.services.push(svc);
    for (let e = 0; e < perService; e++) {
      const ep: Endpoint = { service: svc.hostname, servicePort: 8080, address: `10.${(s >> 8) & 255}.${s & 255}.${e + 1}`, port: 8080, labels: { app: name, version: `v${(e % 2) + 1}` }, workload: `${name}-${e}`, namespace: 'default', serviceAccount: name, tlsMode: 'istio' };
      view.endpoints.push(ep);
    }
  }
  const n = new ChangeNotifier();
  return { name: 'bench', start: async () => {}, stop: async () => {}, view: () => ({ services: [...view.services], endpoints: [...view.endpoints], workloads: [] }), onChange: (l) => n.on(l) };
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
}

/** Runs the push benchmark and prints a table or one JSON object. */
export async function benchPush(o: { quick: boolean; json: boolean }): Promise<void> {
  const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
  const proxies = env('BENCH_PUSH_PROXIES', o.quick ? 100 : 2000);
  const services = env('BENCH_PUSH_SERVICES', o.quick ? 100 : 1000);
  const perService = 5;
  const rounds = o.quick ? 2 : 5;
  const workers = Math.min(4, Math.max(1, Math.ceil(proxies / 500)));
  const log = (s: string) => { if (!o.json) process.stderr.write(s + '\n'); };

  const dir = mkdtempSync(join(tmpdir(), 'bowline-bench-push-'));
  const store = await openEmbeddedStore({ dir });
  const universal = new UniversalRegistry(store);
  const controller = new MeshController({ store, registry: new AggregateRegistry([staticRegistry(services, perService), universal]), mesh: defaultMeshConfig() });
  await controller.start();
  const acks = new Map<string, number>();
  let pending = new Set<string>();
  let roundDone: (() => void) | undefined;
  const server = new PushServer({
    source: controller,
    universal,
    log: () => {},
    allowPlaintext: true, // simulated proxies without identities, on loopback
    onAck: (id, at) => {
      acks.set(id, at);
      if (pending.delete(id) && pending.size === 0) roundDone?.();
    },
  });
  const addr = await server.listen(0);
  log(`push bench: ${services} services, ${services * perService} endpoints, ${proxies} proxies in ${workers} processes`);

  const client = fileURLToPath(new URL('./push-client.ts', import.meta.url));
  const children: ChildProcess[] = [];
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const per = Math.ceil(proxies / workers);
  await Promise.all(Array.from({ length: workers }, (_, w) => new Promise<void>((resolve, reject) => {
    const count = Math.min(per, proxies - w * per);
    const c = fork(client, [String(addr.port), String(w * per), String(count)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.push(c);
    c.on('message', (m: { type: string }) => { if (m.type === 'ready') resolve(); });
    c.on('exit', (code) => reject(new Error(`bench client exited with ${code}`)));
  })));
  // Wait until every proxy has ACKed its initial config and registrations have settled.
  const deadline = Date.now() + 240_000;
  while ((server.connected < proxies || server.status().some((s) => Object.values(s.types).some((t) => t.state !== 'SYNCED'))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const initialSyncS = (Date.now() - t0) / 1000;
  const cpuInit = process.cpuUsage(cpu0);
  log(`initial sync of ${server.connected} proxies: ${initialSyncS.toFixed(1)} s`);
  await new Promise((r) => setTimeout(r, 500));

  const latencies: number[] = [];
  const cpu1 = process.cpuUsage();
  const bytes0 = server.metrics.bytes;
  for (let r = 0; r < rounds; r++) {
    pending = new Set(server.status().map((s) => s.id));
    const done = new Promise<void>((resolve) => (roundDone = resolve));
    const start = Date.now();
    const vs = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'svc-0', namespace: 'default' }, spec: { hosts: ['svc-0'], http: [{ route: [{ destination: { host: 'svc-0' }, weight: 100 - r * 10 }, { destination: { host: 'svc-1' }, weight: r * 10 }].filter((d) => d.weight > 0) }] } };
    if (r === 0) await store.create(vs);
    else await store.update(vs);
    await Promise.race([done, new Promise((res) => setTimeout(res, 30_000))]);
    for (const s of server.status()) {
      const at = acks.get(s.id);
      if (at !== undefined && at >= start) latencies.push(at - start);
    }
    log(`round ${r + 1}: ${pending.size === 0 ? 'all proxies ACKed' : `${pending.size} proxies did not ACK`} in ${Date.now() - start} ms`);
    await new Promise((res) => setTimeout(res, 200));
  }
  const cpuRounds = process.cpuUsage(cpu1);
  latencies.sort((a, b) => a - b);
  const rss = process.memoryUsage().rss / 1048576;
  const result = {
    proxies: server.connected,
    services,
    endpoints: services * perService,
    rounds,
    convergence_p50_ms: pct(latencies, 50),
    convergence_p99_ms: pct(latencies, 99),
    convergence_max_ms: latencies.at(-1) ?? NaN,
    acks_measured: latencies.length,
    cp_rss_mb: Math.round(rss),
    cp_cpu_s_initial_sync: Number(((cpuInit.user + cpuInit.system) / 1e6).toFixed(2)),
    cp_cpu_s_per_change: Number(((cpuRounds.user + cpuRounds.system) / 1e6 / rounds).toFixed(3)),
    initial_sync_s: Number(initialSyncS.toFixed(1)),
    bytes_per_change: Math.round((server.metrics.bytes - bytes0) / rounds),
  };
  for (const c of children) c.kill('SIGTERM');
  await server.close();
  await controller.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  if (o.json) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    for (const [k, v] of Object.entries(result)) process.stdout.write(`${k.padEnd(24)} ${v}\n`);
    process.stdout.write(`targets: p99 <= 500 ms (${result.convergence_p99_ms <= 500 ? 'met' : 'MISSED'}), RSS <= 500 MB (${result.cp_rss_mb <= 500 ? 'met' : 'MISSED'})\n`);
  }
}
