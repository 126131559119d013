/**
 * `bowline join DIR` and `bowline leave` as plans (src/platform/vm/plan.ts): what joining a host
 * changes -- the `bowline-proxy` user, /etc/bowline (bundle files, the token 0600 and the
 * identity directory 0700, both the proxy user's), the systemd unit -- and exactly that, undone.
 * `root` prefixes where files go (tests, image building); the unit's lines keep the host paths.
 */
import { join } from 'node:path';
import { parseBundlePort } from './bundle.js';
import type { Step } from './plan.js';
import { renderUnit, UNIT_NAME } from './unit.js';

/** Where joining installs the bundle on the host. */
export const ETC_DIR = '/etc/bowline';
/** Where the unit goes. */
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;
/** The proxy's user (Istio's istio-proxy). */
export const DEFAULT_USER = 'bowline-proxy';

/** A bundle as read from its directory. */
export interface ReadBundle {
  env: Record<string, string>;
  envText: string;
  rootCertPem: string;
  token: string;
  meshYaml: string;
  /** probe.json: the WorkloadGroup's probe, run by the proxy. */
  probeJson?: string;
}

/** How to join. */
export interface JoinOptions {
  root: string;
  /** This host's address other proxies reach it on. */
  address: string;
  node: string;
  bowline: string;
  user: string;
  userExists: boolean;
  systemd: boolean;
}

/** What joining does, and what the proxy runs with. */
export interface JoinPlan {
  steps: Step[];
  unit: string;
  captureArgs: string[];
  /** `bowline proxy` arguments with the host's paths (the unit) and with `root` prefixed (a foreground run here). */
  proxyArgs: string[];
  proxyArgsHere: string[];
}

function need(env: Record<string, string>, key: string): string {
  const v = env[key];
  if (!v) throw new Error(`bowline.env has no ${key}: not a bundle made by \`bowline vm bundle\``);
  return v;
}

/** The proxy's flags for a bundle, with its files under `etc`. */
function proxyArgs(b: ReadBundle, o: JoinOptions, etc: string): string[] {
  const group = need(b.env, 'BOWLINE_WORKLOAD_GROUP');
  const ns = need(b.env, 'ISTIO_NAMESPACE');
  const ports = (b.env.BOWLINE_PORTS ?? '').split(',').filter(Boolean).map(parseBundlePort);
  const args = ['--server', need(b.env, 'BOWLINE_DISCOVERY_ADDRESS'), '--name', group, '--namespace', ns, '--service-account', need(b.env, 'SERVICE_ACCOUNT'),
    '--workload-group', group, '--id', `${group}-${o.address}.${ns}`, '--address', o.address, '--capture', 'iptables'];
  if (b.env.BOWLINE_LABELS) args.push('--labels', b.env.BOWLINE_LABELS);
  for (const p of ports) args.push('--service', `${group}:${p.port}/${p.protocol}`);
  args.push('--token-file', join(etc, 'token'), '--ca-cert-file', join(etc, 'root-cert.pem'), '--identity-dir', join(etc, 'identity'), '--trust-domain', b.env.TRUST_DOMAIN ?? 'cluster.local');
  if (b.probeJson) args.push('--probe-file', join(etc, 'probe.json'));
  return args;
}

/** The plan of `bowline join`. */
export function joinPlan(b: ReadBundle, o: JoinOptions): JoinPlan {
  const at = (p: string) => (o.root ? join(o.root, p) : p);
  const inbound = b.env.ISTIO_INBOUND_PORTS ?? '*';
  const captureArgs = ['--proxy-uid', o.user, '--proxy-gid', o.user, '--include-inbound-ports', inbound, '--dns'];
  const cidr = b.env.ISTIO_SERVICE_CIDR;
  if (cidr && cidr !== '*') captureArgs.push('--include-cidrs', cidr);
  const args = proxyArgs(b, o, ETC_DIR);
  const unit = renderUnit({ node: o.node, bowline: o.bowline, user: o.user, captureArgs, proxyArgs: args, envFile: join(ETC_DIR, 'bowline.env') });
  const steps: Step[] = [];
  if (!o.userExists) steps.push({ kind: 'run', argv: ['useradd', '--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', o.user] });
  steps.push(
    { kind: 'dir', path: at(ETC_DIR), mode: 0o755 },
    { kind: 'file', path: at(join(ETC_DIR, 'bowline.env')), mode: 0o644, content: `${b.envText.replace(/\n*$/, '\n')}BOWLINE_WORKLOAD_ADDRESS=${o.address}\n` },
    { kind: 'file', path: at(join(ETC_DIR, 'root-cert.pem')), mode: 0o644, content: b.rootCertPem },
    { kind: 'file', path: at(join(ETC_DIR, 'mesh.yaml')), mode: 0o644, content: b.meshYaml },
    ...(b.probeJson ? [{ kind: 'file' as const, path: at(join(ETC_DIR, 'probe.json')), mode: 0o644, content: b.probeJson }] : []),
    { kind: 'file', path: at(join(ETC_DIR, 'token')), mode: 0o600, content: `${b.token}\n`, owner: o.user },
    { kind: 'dir', path: at(join(ETC_DIR, 'identity')), mode: 0o700, owner: o.user },
  );
  if (o.systemd) {
    steps.push(
      { kind: 'file', path: at(UNIT_PATH), mode: 0o644, content: unit },
      { kind: 'run', argv: ['systemctl', 'daemon-reload'] },
      { kind: 'run', argv: ['systemctl', 'enable', '--now', UNIT_NAME] },
    );
  } else {
    steps.push({ kind: 'run', argv: [o.node, o.bowline, 'capture', 'install', ...captureArgs] });
  }
  return { steps, unit, captureArgs, proxyArgs: args, proxyArgsHere: proxyArgs(b, o, at(ETC_DIR)) };
}

/** The plan of `bowline leave`: everything join made, removed. */
export function leavePlan(o: { root: string; node: string; bowline: string; user: string; userExists: boolean; unitExists: boolean }): Step[] {
  const at = (p: string) => (o.root ? join(o.root, p) : p);
  const steps: Step[] = [];
  if (o.unitExists) {
    steps.push({ kind: 'run', argv: ['systemctl', 'disable', '--now', UNIT_NAME], optional: true }, { kind: 'remove', path: at(UNIT_PATH) }, { kind: 'run', argv: ['systemctl', 'daemon-reload'], optional: true });
  }
  steps.push({ kind: 'run', argv: [o.node, o.bowline, 'capture', 'clean'] }, { kind: 'remove', path: at(ETC_DIR) });
  if (o.userExists) steps.push({ kind: 'run', argv: ['userdel', o.user] });
  return steps;
}
