import { ApiClient, failureLine, resolveTarget } from '../client.js';
import { alignColumns } from '../printers.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline proxy-status [PROXY] [-o table|json] [--server URL]

Shows every proxy connected to the control plane: per resource type SYNCED (runs the latest),
STALE (a push is in flight), NACKED (refused the latest; runs its last good config), the age of
its last ACK and its last convergence time (config change -> ACK).
`;

const TYPES = ['listeners', 'routes', 'clusters', 'endpoints', 'secrets'] as const;
const SHORT: Record<string, string> = { listeners: 'LDS', routes: 'RDS', clusters: 'CDS', endpoints: 'EDS', secrets: 'SDS' };

interface Status {
  id: string;
  role: string;
  types: Record<string, { state: string; error?: string }>;
  lastAckAt?: number;
  lastConvergenceMs?: number;
}

function age(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 1000) return `${ms}ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  return `${Math.round(ms / 60_000)}m`;
}

/** Formats /debug/syncz as a table like `istioctl proxy-status`. */
export function formatProxyStatus(body: { now: number; proxies: Status[] }): string {
  const rows = [['NAME', 'ROLE', ...TYPES.map((t) => SHORT[t]!), 'LAST ACK', 'CONVERGENCE']];
  for (const p of body.proxies) {
    rows.push([p.id, p.role, ...TYPES.map((t) => p.types[t]?.state ?? '-'), p.lastAckAt ? `${age(body.now - p.lastAckAt)} ago` : 'never', p.lastConvergenceMs !== undefined ? `${p.lastConvergenceMs}ms` : '-']);
  }
  let out = alignColumns(rows);
  for (const p of body.proxies) for (const t of TYPES) if (p.types[t]?.state === 'NACKED') out += `${p.id} ${t}: NACK: ${p.types[t]!.error ?? ''}\n`;
  return out;
}

/** `bowline proxy-status`: sync state of every proxy. */
export const command: Command = {
  name: 'proxy-status',
  summary: 'Show each proxy\'s sync state per resource type (SYNCED/STALE/NACKED), last ACK and convergence',
  async run(args) {
    const { values, positionals } = parseFlags(args, { ...clientFlags, output: { type: 'string', short: 'o', default: 'table' } });
    if (values.help) { process.stdout.write(usage); return EXIT_OK; }
    if (values.output !== 'table' && values.output !== 'json') throw new UsageError('-o must be table or json');
    const api = new ApiClient(resolveTarget(values));
    const res = await api.call('GET', '/debug/syncz');
    if (res.status !== 200) { process.stderr.write(failureLine('proxy-status', res)); return EXIT_INVALID; }
    const body = res.body as { now: number; proxies: Status[] };
    if (positionals[0]) body.proxies = body.proxies.filter((p) => p.id.startsWith(positionals[0]!));
    process.stdout.write(values.output === 'json' ? JSON.stringify(body, null, 2) + '\n' : formatProxyStatus(body));
    return EXIT_OK;
  },
};
