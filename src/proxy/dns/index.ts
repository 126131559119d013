/** The sidecar's DNS proxy: name table lookup, forwarding to the host's resolvers, the UDP/TCP server. */
export { compileNameTable, type NameAnswer, type NameTable } from './table.js';
export { DEFAULT_DNS_PORT, startDnsProxy, type DnsProxy, type DnsProxyOptions, type DnsStats } from './server.js';
export { resolvConfUpstreams, type Upstream } from './upstream.js';
