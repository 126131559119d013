import { spawn, spawnSync } from 'node:child_process';
import { proxyArgv } from '../../proxy/node-flags.js';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { parseDuration } from '../../api/duration.js';
import { bundleFiles, parseBundlePort, parseEnv, type BundlePort } from '../../platform/vm/bundle.js';
import { DEFAULT_USER, ETC_DIR, joinPlan, leavePlan, UNIT_PATH, type ReadBundle } from '../../platform/vm/join.js';
import { executePlan, renderPlan } from '../../platform/vm/plan.js';
import { readBootstrapToken } from '../../proxy/identity/token.js';
import { parseLabels } from '../../proxy/bootstrap.js';
import { parseWorkloadProbe } from '../../proxy/workload-probe.js';
import { formatSpiffeId } from '../../proxy-config/spiffe.js';
import { tryParseHostPort } from '../../proxy-config/host-port.js';
import { ApiClient, processIO, resolveTarget, UnreachableError, type CliIO } from '../client.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';
import { runApply } from './apply.js';
import { bowlineVersion } from './version.js';

const usage = `Usage: bowline vm bundle -o DIR (-f workloadgroup.yaml | --name NAME [--namespace NS] [--service-account SA]
                        [--labels k=v,...] [--ports NAME:PORT[/PROTOCOL],...] [--network NET])
                        [--discovery-address HOST:PORT] [--token-ttl 24h] [--server URL]
       bowline join DIR [--dry-run] [--no-systemd] [--address IP] [--root DIR]      (on the host, as root)
       bowline leave [--dry-run] [--root DIR]                                         (on the host, as root)

bundle (control-plane side, like istioctl x workload entry configure) applies the WorkloadGroup and
writes DIR: bowline.env (Istio's cluster.env keys and Bowline's), root-cert.pem, a single-use
bootstrap token (expires after --token-ttl), mesh.yaml and workloadgroup.yaml.

join installs the bundle under /etc/bowline, creates the bowline-proxy user, writes and starts
bowline-proxy.service (capture installed before each start; the proxy gets its certificate with
the token and renews it for as long as it runs; key and certificate stay in /etc/bowline/identity).
The host appears as a WorkloadEntry of the group while its proxy is connected. --no-systemd runs
the proxy in the foreground instead. --dry-run prints each file (# file: PATH (MODE)) and command
(# run: ...) instead. leave removes the unit, the capture rules, /etc/bowline and the user.
docs/platforms/vm.md
`;

const bundleFlags = {
  ...clientFlags,
  output: { type: 'string', short: 'o' },
  filename: { type: 'string', short: 'f' },
  name: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'service-account': { type: 'string' },
  labels: { type: 'string' },
  ports: { type: 'string' },
  network: { type: 'string' },
  'discovery-address': { type: 'string' },
  'token-ttl': { type: 'string', default: '24h' },
} as const;

interface Group { name: string; namespace: string; serviceAccount: string; labels: Record<string, string>; ports: BundlePort[]; network?: string; probe?: Record<string, unknown>; object: Record<string, unknown> }

/** The WorkloadGroup from -f or from flags. */
function groupFrom(values: Record<string, unknown>): Group {
  const str = (k: string) => (typeof values[k] === 'string' ? values[k] as string : undefined);
  if (str('filename')) {
    const file = str('filename')!;
    let doc: Record<string, unknown>;
    try {
      doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`-f ${file}: ${(err as Error).message}`);
    }
    if (doc?.kind !== 'WorkloadGroup') throw new UsageError(`-f ${file}: expected one WorkloadGroup, got ${JSON.stringify(doc?.kind)}`);
    const meta = (doc.metadata ?? {}) as { name?: string; namespace?: string };
    const spec = (doc.spec ?? {}) as { metadata?: { labels?: Record<string, string> }; template?: { serviceAccount?: string; ports?: Record<string, number>; network?: string }; probe?: Record<string, unknown> };
    if (!meta.name) throw new UsageError(`-f ${file}: metadata.name is required`);
    const namespace = str('namespace') ?? meta.namespace ?? 'default';
    const ports = Object.entries(spec.template?.ports ?? {}).map(([n, p]) => parseBundlePort(`${n}:${p}`));
    if (spec.probe) {
      try { parseWorkloadProbe(JSON.stringify(spec.probe), `-f ${file}: spec.probe`); } catch (err) { throw new UsageError((err as Error).message); }
    }
    return { name: meta.name, namespace, serviceAccount: spec.template?.serviceAccount ?? 'default', labels: spec.metadata?.labels ?? {}, ports, ...(spec.template?.network ? { network: spec.template.network } : {}), ...(spec.probe ? { probe: spec.probe } : {}), object: { ...doc, metadata: { ...meta, namespace } } };
  }
  const name = str('name');
  if (!name) throw new UsageError('-f workloadgroup.yaml or --name NAME is required');
  const namespace = str('namespace') ?? 'default';
  const serviceAccount = str('service-account') ?? 'default';
  let labels: Record<string, string>;
  let ports: BundlePort[];
  try {
    labels = str('labels') ? parseLabels(str('labels')!) : { app: name };
    ports = (str('ports') ?? '').split(',').filter(Boolean).map(parseBundlePort);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const network = str('network');
  const template: Record<string, unknown> = { serviceAccount, ...(ports.length ? { ports: Object.fromEntries(ports.map((p) => [p.name, p.port])) } : {}), ...(network ? { network } : {}) };
  const object = { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', metadata: { name, namespace }, spec: { metadata: { labels }, template } };
  return { name, namespace, serviceAccount, labels, ports, ...(network ? { network } : {}), object };
}

/** `bowline vm bundle`. */
export async function runBundle(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseFlags(args, bundleFlags, { allowPositionals: false });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  if (!values.output) throw new UsageError('-o DIR is required');
  const ttlMs = parseDuration(values['token-ttl']!);
  if (!ttlMs) throw new UsageError(`--token-ttl must be a positive duration such as 24h or 30m (got "${values['token-ttl']}")`);
  const g = groupFrom(values);
  const target = resolveTarget(values, env);
  const client = new ApiClient(target);
  const discovery = values['discovery-address'] ?? `${new URL(target.server).hostname}:15012`;
  // Apply the group (create or update), as bowline apply would.
  const tmp = mkdtempSync(join(tmpdir(), 'bowline-vm-'));
  try {
    writeFileSync(join(tmp, 'workloadgroup.yaml'), stringify(g.object));
    const applied = await runApply(['-f', join(tmp, 'workloadgroup.yaml'), ...(values.server ? ['--server', values.server] : []), ...(values.home ? ['--home', values.home] : [])], { ...io, stdout: (s) => io.stderr(s) }, env);
    if (applied !== 0) return applied;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  try {
    const trust = await client.call('GET', '/v1/ca/trust-bundle');
    if (trust.status !== 200) { io.stderr(`bowline vm bundle: the control plane at ${target.server} serves no CA trust bundle (HTTP ${trust.status}); is the CA plugin enabled?\n`); return EXIT_INVALID; }
    const tb = trust.body as { trustDomain: string; trustBundle: string };
    const tok = await client.call('POST', '/v1/tokens', { namespace: g.namespace, serviceAccount: g.serviceAccount, ttlMs, workload: g.name });
    if (tok.status !== 201) {
      const e = (tok.body as { error?: { message?: string }; message?: string }) ?? {};
      io.stderr(`bowline vm bundle: no bootstrap token: ${e.error?.message ?? e.message ?? `HTTP ${tok.status}`}\n`);
      return EXIT_INVALID;
    }
    const t = tok.body as { token: string; expiresAt: string };
    const files = bundleFiles({
      group: g.name, namespace: g.namespace, serviceAccount: g.serviceAccount, labels: g.labels, ports: g.ports, ...(g.network ? { network: g.network } : {}),
      discoveryAddress: discovery, trustDomain: tb.trustDomain, rootCertPem: tb.trustBundle, token: t.token, tokenExpiresAt: t.expiresAt,
      version: bowlineVersion(), workloadGroupYaml: stringify(g.object), ...(g.probe ? { probe: g.probe } : {}),
    });
    const dir = resolve(values.output);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const f of files) writeFileSync(join(dir, f.name), f.content, { mode: f.mode });
    io.stdout(`${dir}\n`);
    io.stderr(`bundle for WorkloadGroup ${g.namespace}/${g.name} (${formatSpiffeId({ trustDomain: tb.trustDomain, namespace: g.namespace, serviceAccount: g.serviceAccount })}) in ${dir}; token single use, expires ${t.expiresAt}; control plane ${discovery}\n  on the host: sudo bowline join ${dir}\n`);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof UnreachableError) { io.stderr(`bowline vm bundle: ${err.message}\n`); return EXIT_INVALID; }
    throw err;
  }
}

/** Reads a bundle directory; throws with what is missing or expired. */
function readBundle(dir: string): ReadBundle {
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch {
      throw new UsageError(`${dir} is not a bundle: ${f} is missing (make one with \`bowline vm bundle -o DIR\`)`);
    }
  };
  const envText = read('bowline.env');
  const token = read('token').trim();
  let exp: number;
  try {
    exp = readBootstrapToken(token).expiresAt;
  } catch (err) {
    throw new UsageError(`${dir}/token: ${(err as Error).message}`);
  }
  if (exp < Date.now()) throw new UsageError(`BOWLINE_E_VM_BUNDLE_EXPIRED: the bundle's token expired at ${new Date(exp).toISOString()} by this host's clock (${new Date().toISOString()}): make a new bundle with \`bowline vm bundle\` on the control plane and join with it; if this host's clock is wrong, synchronise it (NTP) first, or its proxy will refuse its peers' certificates as well`);
  const probeJson = existsSync(join(dir, 'probe.json')) ? read('probe.json') : undefined;
  return { env: parseEnv(envText), envText, rootCertPem: read('root-cert.pem'), token, meshYaml: read('mesh.yaml'), ...(probeJson ? { probeJson } : {}) };
}

/** The address this host reaches `hostPort` from (the source address its route picks). */
function localAddressToward(hostPort: string): Promise<string> {
  const hp = tryParseHostPort(hostPort);
  return new Promise((resolveAddr, reject) => {
    const s = createSocket(hp?.host.includes(':') ? 'udp6' : 'udp4');
    s.on('error', (err) => { s.close(); reject(err); });
    s.connect(hp?.port ?? 15012, hp?.host || hostPort, () => {
      const a = s.address().address;
      s.close();
      resolveAddr(a);
    });
  });
}

const userExists = (user: string): boolean => spawnSync('id', ['-u', user]).status === 0;
/** The installed node and bowline, by absolute path (the unit's Exec lines). */
function installed(): { node: string; bowline: string } {
  return { node: process.execPath, bowline: realpathSync(process.argv[1] ?? 'bowline') };
}

/** `bowline join DIR`. */
export async function runJoin(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    help: { type: 'boolean', short: 'h', default: false },
    'dry-run': { type: 'boolean', default: false },
    'no-systemd': { type: 'boolean', default: false },
    address: { type: 'string' },
    root: { type: 'string', default: '' },
    user: { type: 'string', default: DEFAULT_USER },
  }, { allowPositionals: true });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  if (positionals.length !== 1) throw new UsageError('bowline join DIR: one bundle directory (made by `bowline vm bundle -o DIR`)');
  const bundle = readBundle(positionals[0]!);
  const dry = values['dry-run']!;
  if (!dry && process.getuid?.() !== 0) { io.stderr('bowline join: needs root (it creates a user, writes /etc/bowline and installs capture rules); --dry-run shows what it would do\n'); return EXIT_INVALID; }
  const systemd = !values['no-systemd'];
  if (!dry && systemd && !existsSync('/run/systemd/system')) { io.stderr('bowline join: systemd is not running on this host; run the proxy in the foreground with --no-systemd\n'); return EXIT_INVALID; }
  if (bundle.env.BOWLINE_VERSION && bundle.env.BOWLINE_VERSION !== bowlineVersion()) io.stderr(`bowline join: warning: the bundle was made by Bowline ${bundle.env.BOWLINE_VERSION}, this is ${bowlineVersion()} (npm install -g bowline@${bundle.env.BOWLINE_VERSION})\n`);
  const address = values.address ?? await localAddressToward(bundle.env.BOWLINE_DISCOVERY_ADDRESS ?? '').catch(() => undefined);
  if (!address) throw new UsageError('cannot tell this host\'s address toward the control plane: pass --address IP');
  const user = values.user!;
  const plan = joinPlan(bundle, { root: values.root!, address, ...installed(), user, userExists: !dry && userExists(user), systemd });
  const { node, bowline } = installed();
  if (dry) {
    io.stdout(renderPlan([...plan.steps, ...(systemd ? [] : [{ kind: 'run' as const, argv: ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--clear-groups', node, ...proxyArgv(bowline, ['proxy', ...plan.proxyArgsHere])] }])]));
    if (!systemd) io.stdout(`# file: ${UNIT_PATH} (0644) (not written with --no-systemd; what systemd would run)\n${plan.unit}`);
    return EXIT_OK;
  }
  try {
    executePlan(plan.steps, (l) => io.stderr(`bowline join: ${l}\n`));
  } catch (err) {
    io.stderr(`bowline join: ${(err as Error).message}\n  nothing is rolled back; \`bowline leave\` removes what was done\n`);
    return EXIT_INVALID;
  }
  if (systemd) {
    io.stderr(`bowline join: joined; the proxy runs as ${UNIT_PATH} (journalctl -u bowline-proxy)\n`);
    return EXIT_OK;
  }
  // Foreground: the proxy as its user; its signals and exit are ours.
  const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
  io.stderr(`bowline join: joined; running the proxy in the foreground as ${user} (--no-systemd)\n`);
  const child = spawn(node, proxyArgv(bowline, ['proxy', ...plan.proxyArgsHere]), { uid, gid, stdio: 'inherit' });
  // `bowline leave` stops this proxy by its pid (it deregisters on the way out).
  if (child.pid) writeFileSync(pidFile(values.root!), `${child.pid}\n`, { mode: 0o644 });
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => child.kill(sig));
  return new Promise<number>((done) => child.on('exit', (code, signal) => done(code ?? (signal ? 0 : 1))));
}

/** Where `join --no-systemd` notes its foreground proxy's pid. */
const pidFile = (root: string): string => join(root || '/', ETC_DIR, 'proxy.pid');

/** The foreground proxy `join --no-systemd` started, when it still runs (its pid, checked to be a bowline proxy). */
function foregroundProxy(root: string): number | undefined {
  let pid: number;
  try { pid = Number(readFileSync(pidFile(root), 'utf8').trim()); } catch { return undefined; }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmd.includes('proxy') && cmd.some((a) => a.endsWith('bowline') || a.endsWith('main.js')) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM to the proxy, then waits (at most `ms`) for it to exit: it tells the control plane it leaves, which removes its WorkloadEntry at once. */
async function stopProxy(pid: number, ms = 15_000): Promise<boolean> {
  try { process.kill(pid, 'SIGTERM'); } catch { return true; }
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try { process.kill(pid, 0); } catch { return true; }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** `bowline leave`. */
export async function runLeave(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    help: { type: 'boolean', short: 'h', default: false },
    'dry-run': { type: 'boolean', default: false },
    root: { type: 'string', default: '' },
    user: { type: 'string', default: DEFAULT_USER },
  }, { allowPositionals: true });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  if (positionals.length) throw new UsageError(`bowline leave takes no arguments, got ${positionals.join(' ')}`);
  const dry = values['dry-run']!;
  if (!dry && process.getuid?.() !== 0) { io.stderr('bowline leave: needs root\n'); return EXIT_INVALID; }
  const root = values.root!;
  const steps = leavePlan({ root, ...installed(), user: values.user!, userExists: userExists(values.user!), unitExists: existsSync(join(root || '/', UNIT_PATH)) });
  const fg = foregroundProxy(root);
  if (dry) { io.stdout(`${fg ? `# run: kill -TERM ${fg}   (the proxy bowline join --no-systemd runs; wait for it to exit)\n` : ''}${renderPlan(steps)}`); return EXIT_OK; }
  // The proxy stops first (systemctl disable --now in the plan, or SIGTERM to the foreground one):
  // on its way out it tells the control plane, which deletes its WorkloadEntry at once.
  if (fg) {
    io.stderr(`bowline leave: stopping the proxy (pid ${fg}, bowline join --no-systemd)\n`);
    if (!(await stopProxy(fg))) io.stderr(`bowline leave: the proxy (pid ${fg}) has not exited after 15 s; going on (its WorkloadEntry goes after the control plane's grace period)\n`);
  }
  try {
    executePlan(steps, (l) => io.stderr(`bowline leave: ${l}\n`));
  } catch (err) {
    io.stderr(`bowline leave: ${(err as Error).message}\n`);
    return EXIT_INVALID;
  }
  io.stderr(`bowline leave: left the mesh (proxy stopped and deregistered, unit, capture rules, ${join(root || '/', ETC_DIR)} and user ${values.user} removed; a proxy that was already down is deregistered when the control plane's grace period ends)\n`);
  return EXIT_OK;
}

/** `bowline vm bundle|join|leave`. */
export const command: Command = {
  name: 'vm',
  summary: 'Bring a VM or bare-metal host into the mesh: bundle (control plane side), join and leave (on the host)',
  run(args) {
    const [sub, ...rest] = args;
    if (sub === 'bundle') return runBundle(rest, processIO);
    if (sub === 'join') return runJoin(rest, processIO);
    if (sub === 'leave') return runLeave(rest, processIO);
    if (sub === undefined || sub === '-h' || sub === '--help') { processIO.stdout(usage); return Promise.resolve(sub ? EXIT_OK : EXIT_INVALID); }
    throw new UsageError(`unknown subcommand "${sub}": bowline vm bundle|join|leave`);
  },
};

/** `bowline join DIR` (the same as `bowline vm join`). */
export const joinCommand: Command = { name: 'join', summary: 'Join this host to the mesh from a bundle (bowline vm bundle): user, /etc/bowline, systemd unit, capture', run: (args) => runJoin(args, processIO) };
/** `bowline leave` (the same as `bowline vm leave`). */
export const leaveCommand: Command = { name: 'leave', summary: 'Undo bowline join: unit, capture rules, /etc/bowline and the bowline-proxy user', run: (args) => runLeave(args, processIO) };
