import { readFileSync } from 'node:fs';
import { Server, type AddressInfo } from 'node:net';
import { writePortsFile } from '../ports-file.js';
import { exitOnUncaught } from '../fatal.js';
import { EXIT_INVALID, parseFlags, UsageError, type Command } from '../command.js';
import { readConfigFile, watchConfigFile } from '../../proxy/config-file.js';
import { bootstrapFlagDefs, connectControlPlane, initialConfig, parseBootstrap, reserveEphemeralPorts, type Bootstrap } from '../../proxy/bootstrap.js';
import { startProxy, type RunningProxy } from '../../proxy/proxy.js';
import { parseAppProbers, startHealthServer } from '../../proxy/health.js';
import { parseWorkloadProbe, WorkloadProber, type WorkloadProbe } from '../../proxy/workload-probe.js';
import { holdYoungGeneration } from '../../proxy/young-generation.js';
import { createProxyTelemetry, startMetricsServer, type ProxyTelemetry } from '../../telemetry/index.js';
import { StatsReporter } from '../../telemetry/stats-report.js';
import type { PreparedIdentity } from '../../proxy/identity/join.js'; // loaded with --token-file only (x509 costs ~15 MB RSS)
import { parseServerAddress, type ControlClient } from '../../proxy/control-client/client.js';
import type { OriginalDstLookup } from '../../proxy/capture/original-dst.js';
import { compileNameTable, DEFAULT_DNS_PORT, startDnsProxy, type DnsProxy, type NameTable } from '../../proxy/dns/index.js';
import type { ProxyConfig } from '../../proxy-config/types.js';

const USAGE = `Usage: bowline proxy --config FILE [--admin-port N] [--admin-address A] [--ports-file F] [--drain-ms N]
                     [--metrics-port N] [--metrics-address A] [--telemetry on|off] [--app-metrics-url URL] [--merged-metrics-port N]

Runs the Bowline proxy from a proxy configuration file (JSON or YAML, docs/proxy-config.md).
The file is re-read when it changes and on SIGHUP; an invalid file is refused and the running
config stays. SIGTERM/SIGINT or POST /quitquitquit on the admin port drain and exit.

  --config FILE         proxy configuration
  --admin-port N        admin listener port (default 15000; 0 = ephemeral)
  --admin-address A     admin bind address (default 127.0.0.1)
  --ports-file F        write the chosen ports as JSON {"admin":N,"listeners":{"name":N}}
  --drain-ms N          how long a drain waits for in-flight requests (default 5000)
  --metrics-port N      Prometheus endpoint /stats/prometheus (default 15090; 0 = ephemeral)
  --metrics-address A   metrics bind address (default 127.0.0.1; 0.0.0.0 for a remote Prometheus)
  --telemetry on|off    Istio metrics, tracing and access logs (default on; docs/telemetry.md)
  --app-metrics-url URL the app's own metrics, merged into --merged-metrics-port (Istio's 15020)
  --merged-metrics-port N  port of the merged endpoint (default 15020 when --app-metrics-url is set)

With a control plane instead of --config (docs/push-protocol.md):
  --server HOST:PORT    control plane push address (bowline up's --listen-push, default 127.0.0.1:15010;
                        without --token-file only a control plane started with --push-plaintext accepts it)
  --bootstrap FILE      the values below from a JSON/YAML file (flags win)
  --name NAME --namespace NS --service-account SA --labels k=v,...   the workload (namespace default "default")
  --service NAME:PORT[/PROTOCOL][@APPPORT]   a service port this workload serves (repeatable)
  --app-port N          where the app listens (default: the service port)
  --gateway             an ingress/egress gateway (serves Gateway servers selected by --labels)
  --bind-port P=B       bind logical port P (a Gateway or service port) on B (repeatable; e.g. 80=8080);
                        B 0 = a free port, bound at start and announced (other proxies dial it; see --ports-file)
  --outbound-port N     the HTTP_PROXY listener for the app (default 15001; 0 = none; auto = a free port)
  --capture iptables    the app's traffic is captured (\`bowline capture install\`, docs/capture.md): the outbound
                        listener binds 0.0.0.0 and routes by each connection's original destination, inbound
                        connections arrive on 15006; needs the SO_ORIGINAL_DST addon built at npm install
  --dns                 serve the DNS proxy (on by default with --capture): mesh names from the control
                        plane's name table, other names forwarded to /etc/resolv.conf's resolvers
  --dns-port N          its UDP and TCP port on 127.0.0.1 (default 15053; 0 = a free one, see --ports-file);
                        \`bowline capture install --dns\` redirects the app's DNS there
  --no-dns              no DNS proxy, even with --capture
  --address A           address other proxies reach this one on (default 127.0.0.1)
  --locality R/Z/S      where this proxy runs (REGION[/ZONE[/SUBZONE]]): its endpoints' locality in the
                        registry, and what DestinationRule localityLbSetting prefers near it
  --cluster NAME        the cluster this proxy runs in (telemetry's *_cluster; default Kubernetes)
  --network NET         the network this proxy's workload is on (sets the label topology.istio.io/network; an
                        east-west gateway's label says which network it serves)
  --id ID               proxy id (default NAME.NAMESPACE)
  --endpoints-from hello|platform   platform: a platform registry (bowline up --marathon) reports this
                        workload's endpoints; --service ports only shape its own inbound listeners
  --token-file F        bootstrap token (\`bowline token create\`): the stream becomes TLS (--server is the
                        control plane's 15012), the root is pinned by the token, and the proxy gets a
                        workload certificate for mTLS (namespace and service account come from the token)
  --ca-cert-file F      pin this root instead of the token's hash
  --identity-dir DIR    keep the workload key and certificate in DIR (0600) and start from them: a restart
                        needs no new token (the VM unit uses /etc/bowline/identity)
  --workload-group NAME this workload joins WorkloadGroup NAME (in --namespace): the control plane registers
                        it as a WorkloadEntry from the group's template (Istio's auto-registration)
  --trust-domain TD     trust domain of the workload's SPIFFE id (default cluster.local)
  --stats-interval-ms N how often request counts go to the control plane for its dashboard
                        (default env BOWLINE_STATS_INTERVAL_MS or 5000; 0 = never)
  --health-port N       Istio's 15021 for the kubelet: /healthz/ready (200 once a config from the control plane runs)
                        and /app-health/C/readyz|livez|startupz (the app's probes, moved there by the injector)
  --health-address A    health bind address (default 0.0.0.0: the kubelet probes the pod's address)
  --probe-file F        the WorkloadGroup's probe (JSON: httpGet, tcpSocket or exec, periodSeconds, ...; bowline join
                        writes it from the bundle): run against the app, its result sent to the control plane,
                        which keeps the WorkloadEntry unhealthy (no traffic) until the probe passes
  --app-probers JSON    the moved probes: {"/app-health/C/readyz": {"httpGet": {"path": "/", "port": 8080}}, ...}
  --sockets-from-parent listening sockets come from the parent process over IPC (asks with {type:'send-sockets'};
                        gets {type:'listen'} + socket, ..., {type:'listen-end'}); the listener configured on a
                        socket's address:port adopts it
                        (bowline demo hands the gateway its --port this way, so the port is never free meanwhile)
`;

/** Flag definitions, kept apart so bootstrap flags (--server, --name, --service) can be added beside them. */
export const proxyFlags = {
  config: { type: 'string' },
  'admin-port': { type: 'string' },
  'admin-address': { type: 'string' },
  'ports-file': { type: 'string' },
  'drain-ms': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-address': { type: 'string' },
  telemetry: { type: 'string' },
  'app-metrics-url': { type: 'string' },
  'merged-metrics-port': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'token-file': { type: 'string' },
  'ca-cert-file': { type: 'string' },
  'identity-dir': { type: 'string' },
  'trust-domain': { type: 'string' },
  'stats-interval-ms': { type: 'string' },
  'sockets-from-parent': { type: 'boolean' },
  dns: { type: 'boolean' },
  'no-dns': { type: 'boolean' },
  'dns-port': { type: 'string' },
  'health-port': { type: 'string' },
  'health-address': { type: 'string' },
  'app-probers': { type: 'string' },
  'probe-file': { type: 'string' },
  ...bootstrapFlagDefs,
} as const;

/** Asks the parent for its listening sockets over IPC and receives them until `{type: 'listen-end'}`; keyed `address:port`. */
function socketsFromParent(timeoutMs = 10_000): Promise<Map<string, Server>> {
  const out = new Map<string, Server>();
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('--sockets-from-parent needs an IPC channel to the parent process'));
    const timer = setTimeout(() => reject(new Error(`--sockets-from-parent: no {type: 'listen-end'} from the parent within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (msg: { type?: string }, handle: unknown): void => {
      if (msg?.type === 'listen' && handle instanceof Server) {
        const a = handle.address() as AddressInfo;
        handle.on('connection', (s) => s.destroy()); // until its listener adopts it
        out.set(`${a.address}:${a.port}`, handle);
      } else if (msg?.type === 'listen-end') {
        clearTimeout(timer);
        process.off('message', onMessage);
        setImmediate(() => process.disconnect?.()); // not inside the delivery of queued messages (Node 20 throws there)
        resolve(out);
      }
    };
    process.on('message', onMessage);
    // Asked for only now: a socket received earlier would accept connections no one answers.
    process.send({ type: 'send-sockets' });
  });
}

/** Starts the DNS proxy on the running config's name table (compiled again only when a new config is applied). */
async function startProxyDns(config: () => ProxyConfig, port: number): Promise<DnsProxy> {
  let compiledFor: ProxyConfig | undefined;
  let table: NameTable = compileNameTable(undefined);
  const dns = await startDnsProxy({
    port,
    table() {
      const c = config();
      if (c !== compiledFor) { compiledFor = c; table = compileNameTable(c.names); }
      return table;
    },
    log: (line) => process.stderr.write(`bowline proxy: ${line}\n`),
  });
  const ups = dns.upstreams.map((u) => u.host).join(', ') || 'none (/etc/resolv.conf has no nameserver: other names get SERVFAIL)';
  process.stderr.write(`bowline proxy: DNS proxy on ${dns.address}:${dns.port} (udp, tcp); other names go to ${ups}\n`);
  return dns;
}

function intFlag(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535 * 1000) throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

/** `bowline proxy`: the data plane from a config file, with reload, ports file and graceful drain. */
export const command: Command = {
  name: 'proxy',
  summary: 'Run the Bowline proxy (data plane), a sidecar or gateway, from a config file or the control plane',
  async run(args) {
    const { values } = parseFlags(args, proxyFlags, { allowPositionals: false });
    if (values.help) { process.stdout.write(USAGE); return 0; }
    exitOnUncaught('proxy', 'BOWLINE_E_PROXY_UNCAUGHT');
    if (!values.config && !values.server && !values.bootstrap) throw new UsageError('--config FILE or --server HOST:PORT is required\n' + USAGE);
    let boot: Bootstrap | undefined;
    if (!values.config) {
      try { boot = parseBootstrap(values); } catch (err) { throw new UsageError((err as Error).message); }
    }
    const file = values.config ?? '';
    const drainMs = intFlag(values['drain-ms'], 'drain-ms', 5000);
    const telemetryOn = values.telemetry === undefined || values.telemetry === 'on';
    if (!telemetryOn && values.telemetry !== 'off') throw new UsageError(`--telemetry must be on or off, got ${JSON.stringify(values.telemetry)}`);
    let probe: WorkloadProbe | undefined;
    if (values['probe-file']) {
      if (!boot) throw new UsageError('--probe-file reports to a control plane: it needs --server');
      try { probe = parseWorkloadProbe(readFileSync(values['probe-file'], 'utf8'), values['probe-file']); } catch (err) { throw new UsageError((err as Error).message); }
    }
    let proxy: RunningProxy;
    let metrics: Array<{ port: number; close(): Promise<void> }> = [];
    const metricsPorts: { metrics?: number; mergedMetrics?: number; dns?: number; health?: number } = {};
    let dns: DnsProxy | undefined;
    let joined: PreparedIdentity | undefined;
    const clientRef: { c?: ControlClient } = {};
    let proxyTelemetry: ProxyTelemetry | undefined;
    try {
      if (boot && values['token-file']) {
        const { prepareIdentity } = await import('../../proxy/identity/join.js');
        joined = await prepareIdentity({
          server: parseServerAddress(boot.server),
          token: readFileSync(values['token-file'], 'utf8').trim(),
          ...(values['ca-cert-file'] ? { caCertPem: readFileSync(values['ca-cert-file'], 'utf8') } : {}),
          ...(values['trust-domain'] ? { trustDomain: values['trust-domain'] } : {}),
          ...(values['identity-dir'] ? { identityDir: values['identity-dir'] } : {}),
          request: (csr, o) => (clientRef.c ? clientRef.c.requestCertificate(csr, o) : Promise.reject(new Error('not connected'))),
        });
        boot.node.namespace = boot.workload.namespace = joined.namespace;
        boot.node.serviceAccount = boot.workload.serviceAccount = joined.serviceAccount;
        if (!values.id) boot.node.id = `${boot.node.workload}.${joined.namespace}`;
        if (values['trust-domain']) boot.node.trustDomain = values['trust-domain'];
      }
      // Peers' auto-mTLS sends mTLS only to proxies that will hold a workload certificate.
      if (boot && boot.node.role === 'sidecar') boot.workload.tlsMode = joined ? 'istio' : 'disabled';
      // Ports to pick (--bind-port P=0, --outbound-port auto) are bound now, so the hello announces the real ones.
      let originalDst: OriginalDstLookup | undefined;
      if (boot?.workload.captureMode === 'iptables') {
        const { loadOriginalDst } = await import('../../proxy/capture/original-dst.js');
        const a = loadOriginalDst();
        if ('missing' in a) throw new Error(`--capture iptables cannot work: ${a.missing} (BOWLINE_E_CAPTURE_PREREQ); explicit HTTP_PROXY mode (no --capture) needs none of this`);
        originalDst = a.lookup;
      }
      const reserved = boot ? await reserveEphemeralPorts(boot) : new Map<string, Server>();
      if (values['sockets-from-parent']) for (const [k, srv] of await socketsFromParent()) reserved.set(k, srv);
      const config = boot ? initialConfig(boot) : readConfigFile(file) as Parameters<typeof startProxy>[0]['config'];
      const telemetry = telemetryOn ? createProxyTelemetry({ config }) : undefined;
      proxyTelemetry = telemetry;
      proxy = await startProxy({
        config,
        telemetry,
        adminPort: intFlag(values['admin-port'], 'admin-port', 15000),
        adminAddress: values['admin-address'] ?? '127.0.0.1',
        drainMs,
        onQuit: () => process.exit(0),
        ...(joined ? { identity: joined.identity.live } : {}),
        reservedListeners: reserved,
        ...(originalDst ? { originalDst } : {}),
      });
      if (telemetry) {
        // A busy metrics port (another proxy on this host) costs the metrics endpoint, not the proxy.
        const host = values['metrics-address'] ?? '127.0.0.1';
        const serve = async (port: number, appMetricsUrl?: string): Promise<number | undefined> => {
          try {
            const m = await startMetricsServer({ registry: telemetry.registry, host, port, appMetricsUrl });
            metrics.push(m);
            return m.port;
          } catch (err) {
            process.stderr.write(`bowline proxy: metrics not served: ${(err as Error).message}; pass --metrics-port 0 for an ephemeral port\n`);
            return undefined;
          }
        };
        metricsPorts.metrics = await serve(intFlag(values['metrics-port'], 'metrics-port', 15090));
        if (values['app-metrics-url']) metricsPorts.mergedMetrics = await serve(intFlag(values['merged-metrics-port'], 'merged-metrics-port', 15020), values['app-metrics-url']);
      }
      if (values['no-dns'] !== true && (values.dns === true || values['dns-port'] !== undefined || boot?.workload.captureMode === 'iptables')) {
        dns = await startProxyDns(() => proxy.current.config, intFlag(values['dns-port'], 'dns-port', DEFAULT_DNS_PORT));
        metricsPorts.dns = dns.port;
      }
    } catch (err) {
      await dns?.close();
      for (const m of metrics) await m.close();
      metrics = [];
      process.stderr.write(`bowline proxy: ${(err as Error).message}\n`);
      return EXIT_INVALID;
    }
    // Called after every applied config (listeners may have moved); rewritten only when changed.
    let portsWritten = '';
    const writePorts = (): void => {
      // Passthrough never reaches the proxy's own metrics endpoints or its push client (proxy/passthrough/guard.ts).
      proxy.protectPorts([metricsPorts.metrics, metricsPorts.mergedMetrics, metricsPorts.dns, metricsPorts.health, clientRef.c?.localPort].filter((p): p is number => p !== undefined));
      const ports = { ...proxy.ports, ...metricsPorts };
      if (values['ports-file'] && JSON.stringify(ports) + '\n' !== portsWritten) portsWritten = writePortsFile(values['ports-file'], ports);
    };
    writePorts();
    holdYoungGeneration(); // RSS stays near start-up's instead of wandering up by ~14 MB after load (young-generation.ts)
    process.stderr.write(`bowline proxy: running config ${proxy.current.version || '(unversioned)'}; admin 127.0.0.1:${proxy.ports.admin}; listeners ${JSON.stringify(proxy.ports.listeners)}\n`);
    const reload = (why: string): void => {
      let cfg: unknown;
      try { cfg = readConfigFile(file); } catch (err) {
        process.stderr.write(`bowline proxy: config not reloaded (${why}): ${(err as Error).message}\n`);
        return;
      }
      proxy.applyConfig(cfg).then(() => {
        writePorts();
        process.stderr.write(`bowline proxy: config ${proxy.current.version || '(unversioned)'} applied (${why})\n`);
      }, (err: Error) => process.stderr.write(`bowline proxy: config not applied (${why}), running config kept: ${err.message}\n`));
    };
    let configured = !boot; // a file config runs from the start; a control plane's once the first one is applied
    let draining = false;
    if (values['health-port'] !== undefined) {
      try {
        const probers = values['app-probers'] ? parseAppProbers(values['app-probers']) : {};
        const h = await startHealthServer({
          port: intFlag(values['health-port'], 'health-port', 15021), address: values['health-address'] ?? '0.0.0.0', probers,
          ready: () => (draining ? 'draining' : configured ? undefined : 'no configuration from the control plane yet'),
        });
        metricsPorts.health = h.port;
        writePorts();
      } catch (err) {
        process.stderr.write(`bowline proxy: health port not served: ${(err as Error).message}\n`);
        return EXIT_INVALID;
      }
    }
    const onApplied = (): void => { configured = true; writePorts(); };
    const client = boot ? connectControlPlane(boot, proxy, onApplied, undefined, joined ? { connect: joined.connect, onConnected: () => joined!.identity.onConnected(), onTrustBundle: (pem) => joined!.identity.updateTrustBundle(pem) } : {}) : undefined;
    clientRef.c = client;
    const prober = probe && client ? new WorkloadProber(probe, (healthy, message) => {
      process.stderr.write(`bowline proxy: workload probe: ${healthy ? 'healthy' : `unhealthy (${message})`}\n`);
      client.reportHealth(healthy, message);
    }) : undefined;
    prober?.start();
    const statsMs = intFlag(values['stats-interval-ms'] ?? process.env.BOWLINE_STATS_INTERVAL_MS, 'stats-interval-ms', 5000);
    const istio = telemetryOn ? proxyTelemetry?.istioMetrics : undefined;
    if (client && istio && statsMs > 0) {
      // Counts come from the istio_* series the request path already records; while disconnected
      // nothing is collected, so the next report carries the whole gap.
      const reporter = new StatsReporter(istio);
      const timer = setInterval(() => {
        if (client.connected) for (const m of reporter.collect()) client.sendStats(m);
      }, statsMs);
      timer.unref();
    }
    if (!boot) {
      watchConfigFile(file, () => reload('file changed'));
      process.on('SIGHUP', () => reload('SIGHUP'));
    }
    // Stopping for good: the control plane is told first (`leave`: an auto-registered WorkloadEntry goes now), then the drain.
    const stop = (): void => {
      draining = true;
      prober?.stop();
      void (client ? client.leave() : Promise.resolve()).then(() => proxy.drain(drainMs)).then(() => process.exit(0), () => process.exit(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    return new Promise<number>(() => {}); // runs until drained
  },
};
