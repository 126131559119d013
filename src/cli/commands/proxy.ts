import { readFileSync } from 'node:fs';
import { Server, type AddressInfo } from 'node:net';
import { writePortsFile } from '../ports-file.js';
import { exitOnUncaught } from '../fatal.js';
import { EXIT_INVALID, parseFlags, UsageError, type Command } from '../command.js';
import type { Bootstrap } from '../../proxy/bootstrap.js';
import type { WorkloadProbe } from '../../proxy/workload-probe.js';
import type { SidecarOptions } from '../../proxy/sidecar.js';
import { holdYoungGeneration } from '../../proxy/young-generation.js';

const USAGE = `Usage: bowline proxy --config FILE [--admin-port N] [--admin-address A] [--ports-file F] [--drain-ms N]
                     [--metrics-port N] [--metrics-address A] [--telemetry on|off] [--app-metrics-url URL] [--merged-metrics-port N]

Runs the Bowline proxy from a proxy configuration file (JSON or YAML, docs/proxy-config.md).
The file is re-read when it changes and on SIGHUP; an invalid file is refused and the running
config stays. SIGTERM/SIGINT or POST /quitquitquit on the admin port drain and exit.

  --config FILE         proxy configuration
  --admin-port N        admin listener port (default 15000; 0 = ephemeral)
  --admin-address A     admin bind address (default 127.0.0.1)
  --ports-file F        write the chosen ports as JSON {"admin":N,"listeners":{"name":N}}
  --drain-ms N          how long a drain waits for in-flight requests (default: on shutdown the
                        config's mesh.terminationDrainDurationMs, on a config change its
                        mesh.drainDurationMs, each else 5000)
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

/** The proxy's own flags; the bootstrap flags (--server, --name, --service: proxy/bootstrap.ts) are added beside them. */
const ownFlags = {
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
    // Before the proxy's modules load: start-up would otherwise grow the young generation to 16 MB and keep it (young-generation.ts).
    holdYoungGeneration();
    const { bootstrapFlagDefs } = await import('../../proxy/bootstrap-flags.js');
    const { values } = parseFlags(args, { ...ownFlags, ...bootstrapFlagDefs }, { allowPositionals: false });
    if (values.help) { process.stdout.write(USAGE); return 0; }
    exitOnUncaught('proxy', 'BOWLINE_E_PROXY_UNCAUGHT');
    if (!values.config && !values.server && !values.bootstrap) throw new UsageError('--config FILE or --server HOST:PORT is required\n' + USAGE);
    let boot: Bootstrap | undefined;
    if (!values.config) {
      const { parseBootstrap } = await import('../../proxy/bootstrap.js'); // with its control-plane client: not for --config
      try { boot = parseBootstrap(values); } catch (err) { throw new UsageError((err as Error).message); }
    }
    const telemetryOn = values.telemetry === undefined || values.telemetry === 'on';
    if (!telemetryOn && values.telemetry !== 'off') throw new UsageError(`--telemetry must be on or off, got ${JSON.stringify(values.telemetry)}`);
    let probe: WorkloadProbe | undefined;
    if (values['probe-file']) {
      if (!boot) throw new UsageError('--probe-file reports to a control plane: it needs --server');
      const { parseWorkloadProbe } = await import('../../proxy/workload-probe.js');
      try { probe = parseWorkloadProbe(readFileSync(values['probe-file'], 'utf8'), values['probe-file']); } catch (err) { throw new UsageError((err as Error).message); }
    }
    const log = (line: string): void => { process.stderr.write(`bowline proxy: ${line}\n`); };
    const opts: SidecarOptions = {
      source: boot ? { kind: 'control-plane', boot } : { kind: 'file', file: values.config ?? '' },
      admin: { port: intFlag(values['admin-port'], 'admin-port', 15000), address: values['admin-address'] ?? '127.0.0.1' },
      drainMs: values['drain-ms'] === undefined ? undefined : intFlag(values['drain-ms'], 'drain-ms', 5000),
      statsIntervalMs: intFlag(values['stats-interval-ms'] ?? process.env.BOWLINE_STATS_INTERVAL_MS, 'stats-interval-ms', 5000),
      exit: (code) => process.exit(code),
      log,
    };
    if (telemetryOn) {
      opts.telemetry = { port: intFlag(values['metrics-port'], 'metrics-port', 15090), address: values['metrics-address'] ?? '127.0.0.1' };
      if (values['app-metrics-url']) opts.telemetry.merged = { port: intFlag(values['merged-metrics-port'], 'merged-metrics-port', 15020), appMetricsUrl: values['app-metrics-url'] };
    }
    if (values['no-dns'] !== true && (values.dns === true || values['dns-port'] !== undefined || boot?.workload.captureMode === 'iptables')) {
      opts.dns = values['dns-port'] !== undefined ? { port: intFlag(values['dns-port'], 'dns-port', 0) } : {};
    }
    if (values['health-port'] !== undefined) {
      const port = intFlag(values['health-port'], 'health-port', 15021);
      try {
        const probers = values['app-probers'] ? (await import('../../proxy/health.js')).parseAppProbers(values['app-probers']) : {};
        opts.health = { port, address: values['health-address'] ?? '0.0.0.0', probers };
      } catch (err) {
        log(`health port not served: ${(err as Error).message}`);
        return EXIT_INVALID;
      }
    }
    if (probe) opts.probe = probe;
    if (values['sockets-from-parent']) opts.inheritedSockets = socketsFromParent;
    // Rewritten only when a port changed (listeners may move with a new config).
    const portsFile = values['ports-file'];
    if (portsFile) {
      let written = '';
      opts.onPorts = (ports) => { if (JSON.stringify(ports) + '\n' !== written) written = writePortsFile(portsFile, ports); };
    }
    try {
      if (boot && values['token-file']) {
        opts.source = {
          kind: 'control-plane', boot,
          token: {
            token: readFileSync(values['token-file'], 'utf8').trim(),
            ...(values['ca-cert-file'] ? { caCertPem: readFileSync(values['ca-cert-file'], 'utf8') } : {}),
            ...(values['trust-domain'] ? { trustDomain: values['trust-domain'] } : {}),
            ...(values['identity-dir'] ? { identityDir: values['identity-dir'] } : {}),
            idGiven: values.id !== undefined,
          },
        };
      }
      const { runSidecar } = await import('../../proxy/sidecar.js');
      await runSidecar(opts);
    } catch (err) {
      log((err as Error).message);
      return EXIT_INVALID;
    }
    return new Promise<number>(() => {}); // runs until drained
  },
};
