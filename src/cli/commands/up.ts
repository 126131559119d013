import { parseDuration } from '../../api/duration.js';
import { meshIdProblem } from '../../api/mesh-config.js';
import { isLoopback } from '../../control/auth.js';
import { parseListen, startControlPlane, type ControlPlane } from '../../control/control-plane.js';
import { bowlineVersion } from '../../control/version.js';
import { isStoreError, openStore, type Store } from '../../store/index.js';
import { bowlineHome, writeContext } from '../client.js';
import { writePortsFile } from '../ports-file.js';
import { errorLine, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline up [options]      (alias: bowline control)

Runs the control plane: config API, /debug and /metrics, the push stream, the store.

  --listen-api HOST:PORT     config API, /debug/*, /metrics (default 127.0.0.1:15014; port 0 picks one)
  --listen-push HOST:PORT    push stream to proxies (default 127.0.0.1:15010)
  --listen-push-tls HOST:PORT  TLS push stream with certificates for proxies started with --token-file (default 127.0.0.1:15012)
  --push-plaintext           accept proxies without a credential on the plaintext push port (loopback tests and
                             demos only; refused unless --listen-push is a loopback address). Without it every
                             proxy proves its identity: workload certificate or bootstrap token (docs/security.md)
  --ca-kek-file FILE         key-encryption key of the CA's stored key (docs/security.md)
  --new-root                 let the CA generate a new root although the store holds data but no CA state
                             (every workload certificate stops being trusted; without it, start-up is refused)
  --ca-certs-dir DIR         Istio-style cacerts (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem): a shared root
  --home DIR                 state: embedded store, admin token, CLI context (default $BOWLINE_HOME or ~/.bowline)
  --store embedded|etcd://HOST:PORT[,HOST:PORT...]   where config lives (default embedded)
  --config-source kubernetes  config and Bowline's state in the cluster's apiserver (Istio CRDs, installed when
                             missing; Secrets, ConfigMaps, Leases of the root namespace): the cluster of the first
                             --kubeconfig, or --kube-in-cluster; replicas elect a leader (docs/platforms/kubernetes.md)
  --replica-id NAME          this replica's name in that leader election, and with --store etcd:// or --config-source
                             kubernetes in its presence record and proxy-status's REPLICA column (default HOSTNAME-PID)
  --advertise-api URL        where the other replicas on the shared store reach this one's API (proxy-status, proxy-config
                             and explain of the proxies connected to it; default the --listen-api URL, for 0.0.0.0 the
                             host's first non-loopback IPv4 address; docs/debugging.md)
  --mesh-config FILE         Istio MeshConfig YAML (the istio ConfigMap in the root namespace overrides it)
  --cluster-domain DOMAIN    service host suffix name.ns.svc.DOMAIN (default cluster.local)
  --domain DOMAIN            an extra domain services are known by (repeatable)
  --vip-cidr CIDR            virtual IPs for services without addresses, answered by proxies' DNS
                             (default 240.240.0.0/16; allocations are kept in the store)
  --root-namespace NS        mesh root namespace (default istio-system)
  --trust-domain DOMAIN      SPIFFE trust domain (default: the mesh config's, cluster.local)
  --cluster NAME             this cluster's id in a multi-cluster mesh (Istio's multiCluster.clusterName; default Kubernetes)
  --network NET              the network this cluster's workloads are on unless their topology.istio.io/network label
                             says otherwise (Istio's global.network; default none: every endpoint directly reachable)
  --mesh-id ID               the mesh id (Istio's global.meshID; default the mesh config's defaultConfig.meshId, else the trust domain)
  --remote-endpoint-grace D  how long a remote cluster (bowline cluster add) that stopped answering keeps its last
                             endpoints (default 5m; docs/multicluster.md)
  --ports-file FILE          write the bound ports as JSON {"api":N,"push":N,...}
  --marathon URL             discover apps and pods of this Marathon (repeatable; docs/platforms/marathon.md)
  --marathon-token-file F    DC/OS token for every --marathon (re-read when it changes)
  --marathon-service-label L label holding the service name (default istio; "" = the app id's last segment)
  --marathon-domain D        a Mesos-DNS domain services are known by (repeatable; default marathon.mesos
                             and marathon.slave.mesos)
  --listen-webhook HOST:PORT Kubernetes admission webhooks over TLS with a certificate from the CA (in a cluster
                             0.0.0.0:15017; docs/platforms/kubernetes.md): /validate checks Istio resources, /inject
                             adds sidecars to pods
  --webhooks validate,inject which webhooks to serve (default both)
  --inject-image IMAGE       image of injected containers (default bowline/bowline:VERSION)
  --inject-server HOST:PORT  the push address injected proxies dial (default bowline.istio-system.svc:15012;
                             port 0 = the port --listen-push-tls bound)
  --inject-native-sidecar    inject the proxy as a native sidecar (init container, restartPolicy Always; Kubernetes 1.29+)
  --inject-failure-policy Fail|Ignore  what a failed injection does to the pod: refused (default) or admitted without a sidecar
  --inject-identity projected|minted  the proxy's first-contact credential: the pod's projected service-account token
                             (audience istio-ca, checked with a TokenReview; default with --kubeconfig/--kube-in-cluster)
                             or a bootstrap token minted per pod at admission (clusters without service-account tokens)
  --kubeconfig FILE          discover Services, EndpointSlices, Pods and Nodes of the cluster this kubeconfig
                             reaches (repeatable: one registry per cluster); the first one's apiserver also gets
                             the webhook configurations' caBundle patched (default inside a cluster: the pod's
                             service account)
  --kube-in-cluster          also discover the cluster this runs in, with the Pod's service account
  --kube-domain DOMAIN       the clusters' DNS domain: hosts name.ns.svc.DOMAIN (default --cluster-domain)
  --kube-namespace NS        read only these namespaces (repeatable; default all)
  --prometheus URL           the dashboard (/ui/) reads traffic from this Prometheus instead of the proxies' reports
  --api-tls                  serve the config API over HTTPS with a certificate from Bowline's CA (SANs: the listen
                             address, 127.0.0.1, ::1, localhost, the host name); its CA bundle is HOME/api-ca.pem, and
                             \`bowline kubeconfig\` writes server, CA data and token for kubectl (docs/config-api.md)
  --require-token            every API call needs a token, also on loopback (other users of this host reach loopback)
  --audit-log FILE|-         audit log of every mutating API call (default HOME/audit.log; - = this log)

Bound to a non-loopback address (or with --require-token), the API requires a token: the admin
token in HOME/admin-token, or a scoped API token (bowline api-token create --scope viewer NAME).
`;

async function openWithRetry(spec: string, home: string, log: (l: string) => void): Promise<Store> {
  let delay = 200;
  for (;;) {
    try {
      return await openStore(spec, { home });
    } catch (err) {
      if (!isStoreError(err, 'Unavailable') || !spec.startsWith('etcd://')) throw err;
      log(`store: ${err.message}; retrying in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

/** `bowline up`: start the control plane and run until SIGINT/SIGTERM. */
export const command: Command = {
  name: 'up',
  aliases: ['control'],
  summary: 'Run the control plane (config API, store, push stream)',
  async run(args) {
    const { values } = parseFlags(args, {
      'listen-api': { type: 'string', default: '127.0.0.1:15014' },
      'listen-push': { type: 'string', default: '127.0.0.1:15010' },
      'listen-push-tls': { type: 'string', default: '127.0.0.1:15012' },
      'push-plaintext': { type: 'boolean', default: false },
      'new-root': { type: 'boolean', default: false },
      'ca-kek-file': { type: 'string' },
      'ca-certs-dir': { type: 'string' },
      home: { type: 'string' },
      store: { type: 'string', default: 'embedded' },
      'config-source': { type: 'string' },
      'replica-id': { type: 'string' },
      'advertise-api': { type: 'string' },
      'mesh-config': { type: 'string' },
      'cluster-domain': { type: 'string', default: 'cluster.local' },
      domain: { type: 'string', multiple: true },
      'vip-cidr': { type: 'string' },
      'root-namespace': { type: 'string' },
      'trust-domain': { type: 'string' },
      cluster: { type: 'string' },
      network: { type: 'string' },
      'mesh-id': { type: 'string' },
      'remote-endpoint-grace': { type: 'string' },
      'ports-file': { type: 'string' },
      marathon: { type: 'string', multiple: true },
      'marathon-token-file': { type: 'string' },
      'marathon-service-label': { type: 'string' },
      'marathon-domain': { type: 'string', multiple: true },
      kubeconfig: { type: 'string', multiple: true },
      'kube-in-cluster': { type: 'boolean', default: false },
      'kube-domain': { type: 'string' },
      'kube-namespace': { type: 'string', multiple: true },
      prometheus: { type: 'string' },
      'require-token': { type: 'boolean', default: false },
      'api-tls': { type: 'boolean', default: false },
      'audit-log': { type: 'string' },
      'listen-webhook': { type: 'string' },
      webhooks: { type: 'string', default: 'validate,inject' },
      'inject-image': { type: 'string' },
      'inject-server': { type: 'string' },
      'inject-native-sidecar': { type: 'boolean', default: false },
      'inject-failure-policy': { type: 'string', default: 'Fail' },
      'inject-identity': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    }, { allowPositionals: false });
    if (values.help) { process.stdout.write(usage); return EXIT_OK; }
    const store = values.store!;
    if (store !== 'embedded' && !store.startsWith('etcd://')) throw new UsageError(`--store must be embedded or etcd://HOST:PORT[,...], got "${store}"`);
    if (values['push-plaintext'] && !isLoopback(parseListen(values['listen-push']!, '--listen-push').host)) {
      throw new UsageError(`--push-plaintext is refused with --listen-push ${values['listen-push']}: unauthenticated proxy streams are allowed on a loopback address only`);
    }
    const meshIdBad = values['mesh-id'] !== undefined ? meshIdProblem(values['mesh-id']) : undefined;
    if (meshIdBad) throw new UsageError(`--mesh-id: ${meshIdBad}`);
    if (values.prometheus !== undefined && !/^https?:\/\/[^/\s]+/.test(values.prometheus)) throw new UsageError(`--prometheus must be an http(s) URL such as http://127.0.0.1:9090, got "${values.prometheus}"`);
    const home = bowlineHome(values.home);
    const hooks = values.webhooks!.split(',').map((w) => w.trim()).filter(Boolean);
    const badHook = hooks.find((w) => w !== 'validate' && w !== 'inject');
    if (badHook) throw new UsageError(`--webhooks takes validate and/or inject, got "${badHook}"`);
    const failurePolicy = values['inject-failure-policy'];
    if (failurePolicy !== 'Fail' && failurePolicy !== 'Ignore') throw new UsageError(`--inject-failure-policy must be Fail or Ignore, got "${failurePolicy}"`);
    const marathon = (values.marathon ?? []).map((url) => {
      if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--marathon must be an http(s) URL, got "${url}"`);
      return {
        url,
        ...(values['marathon-token-file'] ? { tokenFile: values['marathon-token-file'] } : {}),
        ...(values['marathon-service-label'] !== undefined ? { serviceLabel: values['marathon-service-label'] } : {}),
        ...(values['marathon-domain'] ? { mesosDomains: values['marathon-domain'] } : {}),
      };
    });
    const kubeDomain = values['kube-domain'];
    if (kubeDomain !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(kubeDomain)) throw new UsageError(`--kube-domain must be a DNS domain such as cluster.local, got "${kubeDomain}"`);
    for (const ns of values['kube-namespace'] ?? []) if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)) throw new UsageError(`--kube-namespace must be a namespace name, got "${ns}"`);
    const kubeShared = { ...(kubeDomain ? { clusterDomain: kubeDomain } : {}), ...(values['kube-namespace'] ? { namespaces: values['kube-namespace'] } : {}) };
    const kubernetes = [...(values.kubeconfig ?? []).map((kubeconfig) => ({ kubeconfig, ...kubeShared })), ...(values['kube-in-cluster'] ? [kubeShared] : [])];
    if (kubernetes.length === 0 && (kubeDomain || values['kube-namespace'])) throw new UsageError('--kube-domain and --kube-namespace need --kubeconfig FILE or --kube-in-cluster');
    const configSource = values['config-source'];
    if (configSource !== undefined && configSource !== 'kubernetes') throw new UsageError(`--config-source takes kubernetes, got "${configSource}"`);
    if (configSource && store !== 'embedded') throw new UsageError(`--config-source kubernetes keeps config in the cluster: it cannot be combined with --store ${store}`);
    if (configSource && kubernetes.length === 0) throw new UsageError('--config-source kubernetes needs the cluster: --kubeconfig FILE or --kube-in-cluster');
    if (values['replica-id'] !== undefined && !configSource && !store.startsWith('etcd://')) throw new UsageError('--replica-id names a replica on a shared store: --store etcd://... or --config-source kubernetes');
    if (values['advertise-api'] !== undefined && !configSource && !store.startsWith('etcd://')) throw new UsageError('--advertise-api tells the other replicas on a shared store where this one is: --store etcd://... or --config-source kubernetes');
    if (values['advertise-api'] !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(values['advertise-api'])) throw new UsageError(`--advertise-api must be a base URL such as http://10.0.0.5:15014, got "${values['advertise-api']}"`);
    const injectIdentity = values['inject-identity'] ?? (kubernetes.length ? 'projected' : 'minted');
    if (injectIdentity !== 'projected' && injectIdentity !== 'minted') throw new UsageError(`--inject-identity must be projected or minted, got "${injectIdentity}"`);
    if (injectIdentity === 'projected' && kubernetes.length === 0) throw new UsageError('--inject-identity projected needs the cluster to review the tokens: --kubeconfig FILE or --kube-in-cluster');
    const grace = values['remote-endpoint-grace'];
    const remoteEndpointGraceMs = grace === undefined ? undefined : parseDuration(grace);
    if (grace !== undefined && remoteEndpointGraceMs === undefined) throw new UsageError(`--remote-endpoint-grace must be a duration such as 5m or 30s, got "${grace}"`);
    const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
    let cp: ControlPlane;
    try {
      cp = await startControlPlane({
        home,
        listenApi: values['listen-api']!,
        listenPush: values['listen-push']!,
        listenPushTls: values['listen-push-tls']!,
        pushPlaintext: values['push-plaintext']!,
        caNewRoot: values['new-root']!,
        ...(values['ca-kek-file'] ? { caKekFile: values['ca-kek-file'] } : {}),
        ...(values['ca-certs-dir'] ? { caCertsDir: values['ca-certs-dir'] } : {}),
        store: configSource ? 'kubernetes' : await openWithRetry(store, home, log),
        ...(values['replica-id'] ? { replicaId: values['replica-id'] } : {}),
        ...(values['advertise-api'] ? { advertiseApi: values['advertise-api'] } : {}),
        ...(values['mesh-config'] ? { meshConfigFile: values['mesh-config'] } : {}),
        clusterDomain: values['cluster-domain']!,
        domains: values.domain ?? [],
        ...(values['vip-cidr'] ? { vipCidr: values['vip-cidr'] } : {}),
        ...(marathon.length > 0 ? { marathon } : {}),
        ...(kubernetes.length > 0 ? { kubernetes } : {}),
        ...(values['root-namespace'] ? { rootNamespace: values['root-namespace'] } : {}),
        ...(values['trust-domain'] ? { trustDomain: values['trust-domain'] } : {}),
        ...(values.cluster ? { cluster: values.cluster } : {}),
        ...(values.network ? { network: values.network } : {}),
        ...(values['mesh-id'] ? { meshId: values['mesh-id'] } : {}),
        ...(remoteEndpointGraceMs !== undefined ? { remoteEndpointGraceMs } : {}),
        ...(values.prometheus ? { prometheus: values.prometheus } : {}),
        requireToken: values['require-token']!,
        apiTls: values['api-tls']!,
        ...(values['audit-log'] ? { auditLog: values['audit-log'] } : {}),
        ca: true,
        push: true,
        dashboard: true,
        ...(values['listen-webhook'] ? { webhooks: {
          listen: values['listen-webhook'], validate: hooks.includes('validate'),
          ...(hooks.includes('inject') ? { inject: {
            image: values['inject-image'] ?? `bowline/bowline:${bowlineVersion()}`, failurePolicy,
            nativeSidecar: values['inject-native-sidecar']!, identity: injectIdentity, ...(values['inject-server'] ? { server: values['inject-server'] } : {}),
          } } : {}),
        } } : {}),
        log,
      });
    } catch (err) {
      process.stderr.write(`bowline up: ${errorLine(err)}\n`);
      return EXIT_INVALID;
    }
    writeContext(home, cp.apiUrl);
    if (values['ports-file']) writePortsFile(values['ports-file'], cp.ports);
    log(`bowline control plane ready: API ${cp.apiUrl}${cp.ports.push ? `, push port ${cp.ports.push}` : ''}, dashboard ${cp.apiUrl}/ui/, home ${home}`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    log('bowline control plane: shutting down');
    await cp.close();
    return EXIT_OK;
  },
};
