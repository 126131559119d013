import { ApiClient, failureLine, resolveTarget } from '../client.js';
import { alignColumns } from '../printers.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline authn check [SERVICE[.NAMESPACE]] [--namespace CLIENT_NS] [-o table|json] [--server URL]

For each service host and port: the server's mTLS mode and the policy that set it
(PeerAuthentication, MeshPolicy, Policy, or the PERMISSIVE default), the client's TLS mode and
the DestinationRule (or auto-mTLS) that set it, and OK or CONFLICT with what to change.
Clients without a sidecar have no workload certificate and get a row of their own (plaintext);
when a DestinationRule's subsets set TLS differently, each such subset gets a row.
Exits 1 when any row is a CONFLICT (docs/security.md).

  --namespace NS   only clients in namespace NS (default: every namespace with a proxy)
`;

/** One row of GET /debug/authenticationz. */
interface Row {
  host: string;
  port: number;
  clientNamespace: string;
  /** `no-sidecar`: clients without a proxy (plaintext only). */
  clients?: 'sidecar' | 'no-sidecar';
  /** The DestinationRule subset the row is about, when subsets set TLS differently. */
  subset?: string;
  server: { mode: string; source: string };
  client: { mode: string; source: string };
  status: string;
  message: string;
}

/** Formats the report as a table followed by one sentence per conflict. */
export function formatAuthn(rows: Row[]): string {
  const table = [['HOST:PORT', 'CLIENTS IN', 'SERVER', 'SET BY', 'CLIENT', 'SET BY', 'STATUS']];
  const where = (r: Row) => `${r.host}:${r.port}${r.subset ? ` (subset ${r.subset})` : ''}`;
  for (const r of rows) table.push([where(r), r.clients === 'no-sidecar' ? `${r.clientNamespace} (no sidecar)` : r.clientNamespace, r.server.mode, r.server.source, r.client.mode, r.client.source, r.status]);
  let out = alignColumns(table);
  for (const r of rows) if (r.status === 'CONFLICT') out += `\nCONFLICT ${where(r)}: ${r.message}\n`;
  return out;
}

/** `bowline authn check`: mTLS server/client modes per host and port, with conflicts explained. */
export const command: Command = {
  name: 'authn',
  summary: 'Check mTLS settings: server mode vs client TLS per host and port, conflicts explained',
  async run(args) {
    const { values, positionals } = parseFlags(args, { ...clientFlags, namespace: { type: 'string' }, output: { type: 'string', short: 'o', default: 'table' } });
    if (values.help) { process.stdout.write(usage); return EXIT_OK; }
    if (positionals[0] !== 'check' || positionals.length > 2) throw new UsageError(usage);
    if (values.output !== 'table' && values.output !== 'json') throw new UsageError('-o must be table or json');
    const q = new URLSearchParams();
    if (positionals[1]) q.set('service', positionals[1]);
    if (values.namespace) q.set('namespace', values.namespace);
    const api = new ApiClient(resolveTarget(values));
    const res = await api.call('GET', `/debug/authenticationz${q.size ? `?${q}` : ''}`);
    if (res.status !== 200) { process.stderr.write(failureLine('authn check', res)); return EXIT_INVALID; }
    const body = res.body as { rows: Row[]; conflicts: number };
    if (positionals[1] && body.rows.length === 0) { process.stderr.write(`bowline authn check: no service matches "${positionals[1]}"\n`); return EXIT_INVALID; }
    process.stdout.write(values.output === 'json' ? JSON.stringify(body, null, 2) + '\n' : formatAuthn(body.rows));
    return body.conflicts > 0 ? EXIT_INVALID : EXIT_OK;
  },
};
