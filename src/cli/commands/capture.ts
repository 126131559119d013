import { EXIT_INVALID, parseFlags, UsageError, type Command } from '../command.js';
import { captureRules, defaultCaptureOptions, formatRules, type CaptureOptions } from '../../platform/capture/rules.js';
import { CaptureError, cleanCapture, installCapture, listCapture } from '../../platform/capture/install.js';

const USAGE = `Usage: bowline capture install|clean|rules|list [flags]

Transparent capture for a workload's network namespace (Linux, root; docs/capture.md): outbound TCP
goes to the proxy's outbound listener (15001), inbound TCP to the listed ports to its inbound
listener (15006), in Bowline's own iptables chains (BOWLINE_OUTPUT, BOWLINE_REDIRECT,
BOWLINE_INBOUND, BOWLINE_IN_REDIRECT, BOWLINE_DNS). IPv6 TCP that would be captured is refused.
Rules stay when the proxy stops (fail closed): only \`capture clean\` (or \`bowline leave\`) removes them.

  install                     check everything, then install (idempotent: replaces, never doubles)
  clean                       remove every Bowline rule and chain
  rules                       print the rules without applying anything
  list                        print the Bowline rules installed now

  --proxy-uid UID|NAME        the proxy's user, never captured (default bowline-proxy)
  --proxy-gid GID|NAME        the proxy's group, never captured (default: as --proxy-uid)
  --include-cidrs C,...|*     outbound destinations to capture (Istio's ISTIO_SERVICE_CIDR; default *)
  --exclude-cidrs C,...       outbound destinations never captured
  --include-inbound-ports P,...|*   inbound ports to capture (Istio's ISTIO_INBOUND_PORTS; default *)
  --exclude-inbound-ports P,...     inbound ports never captured (the proxy's own ports never are)
  --exclude-outbound-ports P,...    outbound ports never captured
  --dns                       redirect DNS (UDP and TCP 53) to the proxy's DNS port
  --outbound-port N  --inbound-port N  --dns-port N   the proxy's ports (default 15001, 15006, 15053)
`;

const flags = {
  'proxy-uid': { type: 'string' },
  'proxy-gid': { type: 'string' },
  'include-cidrs': { type: 'string' },
  'exclude-cidrs': { type: 'string' },
  'include-inbound-ports': { type: 'string' },
  'exclude-inbound-ports': { type: 'string' },
  'exclude-outbound-ports': { type: 'string' },
  dns: { type: 'boolean' },
  'outbound-port': { type: 'string' },
  'inbound-port': { type: 'string' },
  'dns-port': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');

function ports(v: string | undefined, name: string): number[] {
  return list(v).map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--${name}: ${JSON.stringify(p)} is not a port (1-65535)`);
    return n;
  });
}

function cidrs(v: string | undefined, name: string): string[] {
  return list(v).map((c) => {
    if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(c)) throw new UsageError(`--${name}: ${JSON.stringify(c)} is not an address or CIDR`);
    return c;
  });
}

function port(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  return ports(v, name)[0] ?? dflt;
}

function owner(v: string | undefined, name: string, dflt: string | undefined): string | undefined {
  if (v === undefined) return dflt;
  if (!/^(\d+|[a-z_][a-z0-9_-]*\$?)$/.test(v)) throw new UsageError(`--${name}: ${JSON.stringify(v)} is not a user/group name or number`);
  return v;
}

/** The capture options from flags (shared with `bowline proxy --capture` docs and the VM unit). */
export function captureOptionsFromFlags(values: Record<string, string | boolean | undefined>): CaptureOptions {
  const d = defaultCaptureOptions();
  const s = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] as string : undefined);
  const o: CaptureOptions = {
    ...d,
    proxyUid: owner(s('proxy-uid'), 'proxy-uid', d.proxyUid)!,
    includeCidrs: s('include-cidrs')?.trim() === '*' ? '*' : s('include-cidrs') !== undefined ? cidrs(s('include-cidrs'), 'include-cidrs') : '*',
    excludeCidrs: cidrs(s('exclude-cidrs'), 'exclude-cidrs'),
    includeInboundPorts: s('include-inbound-ports')?.trim() === '*' ? '*' : s('include-inbound-ports') !== undefined ? ports(s('include-inbound-ports'), 'include-inbound-ports') : '*',
    excludeInboundPorts: ports(s('exclude-inbound-ports'), 'exclude-inbound-ports'),
    excludeOutboundPorts: ports(s('exclude-outbound-ports'), 'exclude-outbound-ports'),
    dns: values['dns'] === true,
    outboundPort: port(s('outbound-port'), 'outbound-port', d.outboundPort),
    inboundPort: port(s('inbound-port'), 'inbound-port', d.inboundPort),
    dnsPort: port(s('dns-port'), 'dns-port', d.dnsPort),
  };
  const gid = owner(s('proxy-gid'), 'proxy-gid', undefined);
  if (gid !== undefined) o.proxyGid = gid;
  return o;
}

/** `bowline capture install|clean|rules|list`. */
export const command: Command = {
  name: 'capture',
  summary: 'Install, remove or print the transparent capture rules (iptables) of a workload\'s network namespace',
  async run(args) {
    const { values, positionals } = parseFlags(args, flags, { allowPositionals: true });
    if (values.help) { process.stdout.write(USAGE); return 0; }
    const action = positionals[0];
    if (positionals.length !== 1 || !['install', 'clean', 'rules', 'list'].includes(action ?? '')) throw new UsageError('one action is required: install, clean, rules or list\n' + USAGE);
    const o = captureOptionsFromFlags(values);
    try {
      switch (action) {
        case 'rules':
          process.stdout.write(formatRules(captureRules(o)));
          return 0;
        case 'list':
          process.stdout.write(listCapture().map((l) => l + '\n').join(''));
          return 0;
        case 'clean': {
          const removed = cleanCapture(captureRules({ ...o, dns: true }).jumps);
          process.stdout.write(`bowline capture: removed ${removed.length} rule(s)/chain(s)\n`);
          return 0;
        }
        default:
          installCapture(captureRules(o));
          process.stdout.write(`bowline capture: installed (outbound -> ${o.outboundPort}, inbound ${o.includeInboundPorts === '*' ? 'all ports' : o.includeInboundPorts.join(',') || 'none'} -> ${o.inboundPort}${o.dns ? `, DNS -> ${o.dnsPort}` : ''}; proxy uid ${o.proxyUid} exempt)\n`);
          return 0;
      }
    } catch (err) {
      if (!(err instanceof CaptureError)) throw err;
      process.stderr.write(`bowline capture: ${err.code}: ${err.message.replace(` (${err.code})`, '')}\n`);
      return EXIT_INVALID;
    }
  },
};
