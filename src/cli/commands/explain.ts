import type { ExplainStep, Explanation } from '../../control/explain/types.js';
import { ApiClient, failureLine, resolveTarget } from '../client.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline explain --from WORKLOAD[.NS] [-X METHOD] [-H 'name: value']... URL [-o text|json] [--server URL]

Evaluates a request from WORKLOAD through its proxy's configuration (the connected proxy's, else the
one a sidecar of that workload would get), with the proxy's own routing, filter chain and
authorization code, and prints each decision with its reason and origin: listener and filter chain,
virtual host, route (rule index, VirtualService, file:line it was applied from), fault, timeout and
retries, cluster, subset, load balancing, endpoints, client TLS, the server's mTLS mode and the
authorization decision with the deciding policy. With several control-plane replicas on one store,
a proxy connected to any of them counts as connected (the replica asked reads it from the other).

Exit code 0 when the request would reach the app, 1 when the mesh would refuse or fail it (or the
workload is unknown: the known ones are listed), 2 for a wrong command line.

  --from WORKLOAD[.NS]  the client workload (e.g. productpage-v1.default, or a unique prefix: productpage)
  -X, --request METHOD  HTTP method (default GET)
  -H, --header 'n: v'   a request header (repeatable), e.g. -H 'end-user: jason'
  -o, --output FORMAT   text (default) or json

Example: bowline explain --from productpage -H 'end-user: jason' http://reviews:9080/reviews/0
`;

function stepLine(s: ExplainStep, indent: string): string {
  const mark = s.ok ? '' : ' [FAILS]';
  return `${indent}${s.step.padEnd(14)} ${s.decision}${mark}\n${indent}${' '.repeat(15)}${s.reason}\n${s.origin ? `${indent}${' '.repeat(15)}from: ${s.origin}\n` : ''}`;
}

/** The explanation as text: the request, one block per decision, then per destination, then the outcome. */
export function formatExplanation(e: Explanation): string {
  let out = `${e.request.method} ${e.request.url} from ${e.from.workload}.${e.from.namespace}\n`;
  for (const [k, v] of Object.entries(e.request.headers)) out += `  ${k}: ${v}\n`;
  out += `evaluated with ${e.from.config}\n`;
  for (const w of e.warnings) out += `WARNING: ${w}\n`;
  out += '\n';
  for (const s of e.steps) out += stepLine(s, '');
  for (const d of e.destinations) {
    out += `\ndestination ${d.cluster} (${Math.round(d.percent * 10) / 10}%)\n`;
    for (const s of d.steps) out += stepLine(s, '  ');
    out += `  => ${d.outcome.ok ? 'OK' : 'FAILS'}: ${d.outcome.summary}\n`;
  }
  out += `\nOutcome: ${e.outcome.ok ? 'OK' : 'FAILS'}: ${e.outcome.summary}\n`;
  return out;
}

/** `bowline explain`: why a request from a workload goes where it goes and gets the status it gets. */
export const command: Command = {
  name: 'explain',
  summary: 'Explain a request from a workload: listener, route (VirtualService rule and file:line), fault, timeout, cluster, endpoints, mTLS, authorization',
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      ...clientFlags,
      from: { type: 'string' },
      request: { type: 'string', short: 'X' },
      header: { type: 'string', short: 'H', multiple: true },
      output: { type: 'string', short: 'o', default: 'text' },
    });
    if (values.help) { process.stdout.write(usage); return EXIT_OK; }
    if (!values.from) throw new UsageError('missing --from WORKLOAD[.NS] (see bowline explain --help)');
    if (positionals.length !== 1) throw new UsageError('give exactly one URL, e.g. http://reviews:9080/reviews/0 (see bowline explain --help)');
    if (values.output !== 'text' && values.output !== 'json') throw new UsageError('-o must be text or json');
    for (const h of values.header ?? []) if (h.indexOf(':') <= 0) throw new UsageError(`-H "${h}" is not 'name: value'`);
    const q = new URLSearchParams({ from: values.from, url: positionals[0]!, method: values.request ?? 'GET' });
    for (const h of values.header ?? []) q.append('header', h);
    const res = await new ApiClient(resolveTarget(values)).call('GET', `/debug/explain?${q}`);
    if (res.status !== 200) {
      process.stderr.write(failureLine('explain', res));
      return EXIT_INVALID;
    }
    const e = res.body as Explanation;
    process.stdout.write(values.output === 'json' ? JSON.stringify(e, null, 2) + '\n' : formatExplanation(e));
    return e.outcome.ok ? EXIT_OK : EXIT_INVALID;
  },
};
