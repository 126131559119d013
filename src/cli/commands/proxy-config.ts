import { ApiClient, failureLine, resolveTarget } from '../client.js';
import { alignColumns as table } from '../printers.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline proxy-config PROXY listeners|routes|clusters|endpoints|secrets|all [-o table|json] [--server URL]

Shows the configuration the control plane gives PROXY (an id from proxy-status, or a unique prefix).
`;

const SECTIONS = ['listeners', 'routes', 'clusters', 'endpoints', 'secrets', 'all'] as const;

/** Formats one section of a proxy config as a table (like `istioctl proxy-config`). */
export function formatSection(section: string, cfg: any): string {
  switch (section) {
    case 'listeners':
      return table([['NAME', 'ADDRESS', 'PORT', 'DIRECTION', 'CHAINS'], ...cfg.listeners.map((l: any) => [l.name, l.address, String(l.port) + (l.logicalPort && l.logicalPort !== l.port ? ` (${l.logicalPort})` : ''), l.direction, l.filterChains.map((c: any) => (c.http ? `http:${c.http.routeConfig}` : 'tcp')).join(',')])]);
    case 'routes': {
      const rows = [['ROUTE CONFIG', 'VIRTUAL HOST', 'DOMAINS', 'ROUTES']];
      for (const rc of cfg.routes) for (const vh of rc.virtualHosts) rows.push([rc.name, vh.name, vh.domains.slice(0, 3).join(',') + (vh.domains.length > 3 ? `,+${vh.domains.length - 3}` : ''), vh.routes.map((r: any) => r.route ? r.route.destinations.map((d: any) => `${d.cluster}${r.route.destinations.length > 1 ? `@${d.weight}` : ''}`).join('+') : r.redirect ? 'redirect' : 'direct').join(' ; ')]);
      return table(rows);
    }
    case 'clusters':
      return table([['NAME', 'DISCOVERY', 'PROTOCOL', 'LB', 'TLS'], ...cfg.clusters.map((c: any) => [c.name, c.discovery, c.protocol, c.loadBalancer?.policy ?? '-', c.tls?.mode ?? '-'])]);
    case 'endpoints': {
      const rows = [['CLUSTER', 'ENDPOINT', 'HEALTH', 'LABELS']];
      for (const a of cfg.endpoints) for (const e of a.endpoints) rows.push([a.cluster, `${e.address}:${e.port}`, e.health ?? 'healthy', Object.entries(e.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',')]);
      return table(rows);
    }
    case 'secrets':
      return table([['NAME', 'KIND'], ...cfg.secrets.map((s: any) => [s.name, s.kind])]);
    default:
      return ['listeners', 'routes', 'clusters', 'endpoints', 'secrets'].map((s) => `${s.toUpperCase()}\n${formatSection(s, cfg)}`).join('\n');
  }
}

/** `bowline proxy-config`: the configuration one proxy gets. */
export const command: Command = {
  name: 'proxy-config',
  summary: 'Show the listeners, routes, clusters or endpoints the control plane gives one proxy',
  async run(args) {
    const { values, positionals } = parseFlags(args, { ...clientFlags, output: { type: 'string', short: 'o', default: 'table' } });
    if (values.help) { process.stdout.write(usage); return EXIT_OK; }
    const [proxy, section = 'all'] = positionals;
    if (!proxy) throw new UsageError('PROXY is required\n' + usage);
    if (!(SECTIONS as readonly string[]).includes(section)) throw new UsageError(`section must be one of ${SECTIONS.join(', ')}`);
    if (values.output !== 'table' && values.output !== 'json') throw new UsageError('-o must be table or json');
    const api = new ApiClient(resolveTarget(values));
    const res = await api.call('GET', `/debug/config_dump?proxy=${encodeURIComponent(proxy)}`);
    if (res.status !== 200) { process.stderr.write(failureLine('proxy-config', res)); return EXIT_INVALID; }
    const cfg = (res.body as { config: any }).config;
    if (values.output === 'json') process.stdout.write(JSON.stringify(section === 'all' ? cfg : cfg[section], null, 2) + '\n');
    else process.stdout.write(formatSection(section, cfg));
    return EXIT_OK;
  },
};
