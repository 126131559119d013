import { ApiClient, failureLine, resolveTarget } from '../client.js';
import { alignColumns } from '../printers.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline proxy-status [PROXY] [-o table|json] [--server URL]

Shows every proxy connected to the control plane: per resource type SYNCED (runs the latest),
STALE (a push is in flight), NACKED (refused the latest; runs its last good config), the age of
its last ACK and its last convergence time (config change -> ACK).

With several control-plane replicas on one store (etcd, or a cluster's apiserver), the replica asked
lists every replica's proxies and the REPLICA column names the one each proxy's stream is connected
to; a replica that does not answer is named on stderr (its proxies are missing from the table).
`;

const TYPES = ['listeners', 'routes', 'clusters', 'endpoints', 'secrets'] as const;
const SHORT: Record<string, string> = { listeners: 'LDS', routes: 'RDS', clusters: 'CDS', endpoints: 'EDS', secrets: 'SDS' };

interface Status {
  id: string;
  role: string;
  /** The control-plane replica holding the proxy's stream (replicas on a shared store). */
  replica?: string;
  types: Record<string, { state: string; error?: string }>;
  lastAckAt?: number;
  lastConvergenceMs?: number;
  /** Its host's clock minus the control plane's, ms (push protocol 13). */
  clockSkewMs?: number;
}

function age(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 1000) return `${ms}ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  return `${Math.round(ms / 60_000)}m`;
}

/** /debug/syncz's answer: every proxy, and with replicas on a shared store, which replicas answered and which did not. */
export interface SynczBody {
  now: number;
  proxies: Status[];
  replicas?: Array<{ id: string; apiUrl?: string; proxies: number }>;
  unreachableReplicas?: Array<{ id: string; apiUrl: string; error: string }>;
  peersUnknown?: string;
}

/** True when the answer comes from replicas sharing a store (more than one, or one that did not answer): the REPLICA column shows. */
function replicated(body: SynczBody): boolean {
  return (body.replicas?.length ?? 0) > 1 || (body.unreachableReplicas?.length ?? 0) > 0;
}

/** Formats /debug/syncz as a table like `istioctl proxy-status` (its ISTIOD column is REPLICA here, shown with several replicas). */
export function formatProxyStatus(body: SynczBody): string {
  const withReplica = replicated(body);
  const rows = [['NAME', 'ROLE', ...TYPES.map((t) => SHORT[t]!), ...(withReplica ? ['REPLICA'] : []), 'LAST ACK', 'CONVERGENCE']];
  for (const p of body.proxies) {
    rows.push([p.id, p.role, ...TYPES.map((t) => p.types[t]?.state ?? '-'), ...(withReplica ? [p.replica ?? '-'] : []), p.lastAckAt ? `${age(body.now - p.lastAckAt)} ago` : 'never', p.lastConvergenceMs !== undefined ? `${p.lastConvergenceMs}ms` : '-']);
  }
  let out = alignColumns(rows);
  for (const p of body.proxies) for (const t of TYPES) if (p.types[t]?.state === 'NACKED') out += `${p.id} ${t}: NACK: ${p.types[t]!.error ?? ''}\n`;
  // A host clock a second or more off: that proxy judges its peers' certificates by it (`bowline explain` says what it refuses).
  for (const p of body.proxies) {
    const skew = p.clockSkewMs;
    if (skew !== undefined && Math.abs(skew) >= 1000) out += `${p.id}: host clock ${Math.round(Math.abs(skew) / 1000)} s ${skew > 0 ? 'ahead of' : 'behind'} the control plane's: it judges peers' certificates by it (synchronise it: NTP)\n`;
  }
  return out;
}

/** One line per replica whose proxies are missing from the answer (it did not answer, or the peers are unknown). */
export function replicaWarnings(body: SynczBody): string {
  let out = '';
  for (const r of body.unreachableReplicas ?? []) out += `Warning: replica ${r.id} (${r.apiUrl}) did not answer: ${r.error}; the proxies connected to it are not listed\n`;
  if (body.peersUnknown) out += `Warning: ${body.peersUnknown}; only the proxies of the replica asked are listed\n`;
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
    const body = res.body as SynczBody;
    if (positionals[0]) body.proxies = body.proxies.filter((p) => p.id.startsWith(positionals[0]!));
    process.stdout.write(values.output === 'json' ? JSON.stringify(body, null, 2) + '\n' : formatProxyStatus(body));
    process.stderr.write(replicaWarnings(body));
    return EXIT_OK;
  },
};
