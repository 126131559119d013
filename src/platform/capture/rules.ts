/**
 * Transparent capture rules (Istio's model, Bowline's own chains): the rule set for a
 * workload's network namespace, as iptables-restore input per family plus the jumps from the
 * built-in chains. Pure: `bowline capture rules` prints it, install.ts applies it.
 *
 * IPv4 (nat table): outbound TCP from anyone but the proxy's uid/gid goes to the outbound
 * listener (BOWLINE_OUTPUT -> BOWLINE_REDIRECT, 15001); only 127.0.0.1 stays out of capture
 * (other loopback addresses are captured); inbound TCP to the listed ports goes to the inbound
 * listener (BOWLINE_INBOUND -> BOWLINE_IN_REDIRECT, 15006), never the proxy's own ports; with
 * `dns`, DNS (UDP and TCP 53) goes to the DNS proxy (15053), the proxy's own DNS exempt.
 * IPv6 (filter table): Bowline's listeners are IPv4, so IPv6 TCP the rules would capture is
 * refused (reset) instead -- never left open to bypass the proxy.
 */

/** What to capture (flags of `bowline capture`). */
export interface CaptureOptions {
  /** The proxy's user (name or number): its own traffic is never captured. Default `bowline-proxy`. */
  proxyUid: string;
  /** The proxy's group (name or number), also exempt. Default: the same as proxyUid. */
  proxyGid?: string;
  /** Outbound destinations to capture (Istio's ISTIO_SERVICE_CIDR); `*` for all. */
  includeCidrs: string[] | '*';
  excludeCidrs: string[];
  /** Inbound ports to capture (Istio's ISTIO_INBOUND_PORTS); `*` for all. */
  includeInboundPorts: number[] | '*';
  excludeInboundPorts: number[];
  excludeOutboundPorts: number[];
  /** Redirect DNS (UDP and TCP 53) to the proxy's DNS port. */
  dns: boolean;
  outboundPort: number;
  inboundPort: number;
  dnsPort: number;
}

/** The proxy's own ports, never captured inbound: admin, outbound, inbound, merged metrics, health, DNS, metrics. */
export const PROXY_PORTS = [15000, 15001, 15006, 15020, 15021, 15053, 15090];

/** Chains Bowline owns (both families). */
export const CHAINS = { output: 'BOWLINE_OUTPUT', redirect: 'BOWLINE_REDIRECT', inbound: 'BOWLINE_INBOUND', inRedirect: 'BOWLINE_IN_REDIRECT', dns: 'BOWLINE_DNS' } as const;

/** A rule in a built-in chain that sends traffic to one of Bowline's chains. */
export interface Jump {
  family: 4 | 6;
  table: 'nat' | 'filter';
  chain: string;
  /** The rule's match and target, as iptables arguments. */
  rule: string[];
}

/** The whole rule set. */
export interface RuleSet {
  /** iptables-restore input (applied with --noflush: only Bowline's chains are replaced). */
  v4: string;
  /** ip6tables-restore input. */
  v6: string;
  jumps: Jump[];
}

/** Default options (Istio's defaults: everything outbound and inbound captured). */
export function defaultCaptureOptions(): CaptureOptions {
  return {
    proxyUid: 'bowline-proxy', includeCidrs: '*', excludeCidrs: [], includeInboundPorts: '*', excludeInboundPorts: [],
    excludeOutboundPorts: [], dns: false, outboundPort: 15001, inboundPort: 15006, dnsPort: 15053,
  };
}

const isV6 = (cidr: string): boolean => cidr.includes(':');

/** Builds the rule set. */
export function captureRules(o: CaptureOptions): RuleSet {
  const gid = o.proxyGid ?? o.proxyUid;
  const owner = (chain: string): string[] => [`-A ${chain} -m owner --uid-owner ${o.proxyUid} -j RETURN`, `-A ${chain} -m owner --gid-owner ${gid} -j RETURN`];
  const notInbound = [...new Set([...PROXY_PORTS, o.outboundPort, o.inboundPort, o.dnsPort, ...o.excludeInboundPorts])].sort((a, b) => a - b);
  const { output: OUT, redirect: RED, inbound: IN, inRedirect: INR, dns: DNS } = CHAINS;

  const v4: string[] = ['*nat', `:${IN} - [0:0]`, `:${INR} - [0:0]`, `:${OUT} - [0:0]`, `:${RED} - [0:0]`];
  if (o.dns) v4.push(`:${DNS} - [0:0]`);
  v4.push(`-A ${RED} -p tcp -j REDIRECT --to-ports ${o.outboundPort}`);
  v4.push(`-A ${INR} -p tcp -j REDIRECT --to-ports ${o.inboundPort}`);
  for (const p of notInbound) v4.push(`-A ${IN} -p tcp --dport ${p} -j RETURN`);
  if (o.includeInboundPorts === '*') v4.push(`-A ${IN} -p tcp -j ${INR}`);
  else for (const p of o.includeInboundPorts) if (!notInbound.includes(p)) v4.push(`-A ${IN} -p tcp --dport ${p} -j ${INR}`);
  v4.push(...owner(OUT));
  v4.push(`-A ${OUT} -d 127.0.0.1/32 -j RETURN`);
  for (const p of o.excludeOutboundPorts) v4.push(`-A ${OUT} -p tcp --dport ${p} -j RETURN`);
  if (o.dns) v4.push(`-A ${OUT} -p tcp --dport 53 -j REDIRECT --to-ports ${o.dnsPort}`);
  for (const c of o.excludeCidrs.filter((c) => !isV6(c))) v4.push(`-A ${OUT} -d ${c} -j RETURN`);
  if (o.includeCidrs === '*') v4.push(`-A ${OUT} -j ${RED}`);
  else for (const c of o.includeCidrs.filter((c) => !isV6(c))) v4.push(`-A ${OUT} -d ${c} -j ${RED}`);
  if (o.dns) {
    v4.push(...owner(DNS));
    v4.push(`-A ${DNS} -p udp --dport 53 -j REDIRECT --to-ports ${o.dnsPort}`);
  }
  v4.push('COMMIT', '');

  const v6: string[] = ['*filter', `:${IN} - [0:0]`, `:${OUT} - [0:0]`];
  v6.push(`-A ${IN} -i lo -j RETURN`);
  for (const p of notInbound) v6.push(`-A ${IN} -p tcp --dport ${p} -j RETURN`);
  if (o.includeInboundPorts === '*') v6.push(`-A ${IN} -p tcp --syn -j REJECT --reject-with tcp-reset`);
  else for (const p of o.includeInboundPorts) if (!notInbound.includes(p)) v6.push(`-A ${IN} -p tcp --dport ${p} --syn -j REJECT --reject-with tcp-reset`);
  v6.push(...owner(OUT));
  v6.push(`-A ${OUT} -d ::1/128 -j RETURN`);
  for (const p of o.excludeOutboundPorts) v6.push(`-A ${OUT} -p tcp --dport ${p} -j RETURN`);
  if (o.dns) v6.push(`-A ${OUT} -p udp --dport 53 -j REJECT`, `-A ${OUT} -p tcp --dport 53 -j REJECT --reject-with tcp-reset`);
  for (const c of o.excludeCidrs.filter(isV6)) v6.push(`-A ${OUT} -d ${c} -j RETURN`);
  if (o.includeCidrs === '*') v6.push(`-A ${OUT} -p tcp --syn -j REJECT --reject-with tcp-reset`);
  else for (const c of o.includeCidrs.filter(isV6)) v6.push(`-A ${OUT} -d ${c} -p tcp --syn -j REJECT --reject-with tcp-reset`);
  v6.push('COMMIT', '');

  const jumps: Jump[] = [
    { family: 4, table: 'nat', chain: 'PREROUTING', rule: ['-p', 'tcp', '-j', IN] },
    { family: 4, table: 'nat', chain: 'OUTPUT', rule: ['-p', 'tcp', '-j', OUT] },
    ...(o.dns ? [{ family: 4 as const, table: 'nat' as const, chain: 'OUTPUT', rule: ['-p', 'udp', '-j', DNS] }] : []),
    { family: 6, table: 'filter', chain: 'INPUT', rule: ['-j', IN] },
    { family: 6, table: 'filter', chain: 'OUTPUT', rule: ['-j', OUT] },
  ];
  return { v4: v4.join('\n'), v6: v6.join('\n'), jumps };
}

/** The rule set as a script a person can read (what `bowline capture rules` prints). */
export function formatRules(r: RuleSet): string {
  const jump = (j: Jump): string => `${j.family === 4 ? 'iptables' : 'ip6tables'} -t ${j.table} -A ${j.chain} ${j.rule.join(' ')}`;
  return [
    '# IPv4: iptables-restore --noflush <<EOF',
    r.v4.trimEnd(),
    'EOF',
    '# IPv6 (refused, not captured): ip6tables-restore --noflush <<EOF',
    r.v6.trimEnd(),
    'EOF',
    '# jumps from the built-in chains (added once; checked with -C first)',
    ...r.jumps.map(jump),
    '',
  ].join('\n');
}
