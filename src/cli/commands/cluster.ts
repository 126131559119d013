import { readFileSync } from 'node:fs';
import { readRemoteView } from '../../registry/remote/bowline.js';
import { bowlineKubeconfig, remoteSecret, remoteSecretName } from '../../registry/remote/secret.js';
import { meshIdMismatch, rootMismatch } from '../../registry/remote/view.js';
import { ApiClient, apiFailure, processIO, resolveTarget, type CliIO } from '../client.js';
import { clientFlags, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';
import { alignColumns } from '../printers.js';

const usage = `Usage: bowline cluster add NAME --server URL --token FILE [--ca-file FILE]
       bowline cluster add NAME --kubeconfig FILE [--network NET]
       bowline cluster list [-o table|json]
       bowline cluster remove NAME
       (all take --server-api URL --home DIR for the local control plane; --namespace NS, default istio-system)

Remote clusters of a multi-cluster mesh (docs/multicluster.md). The local control plane reads each
remote's services and endpoints and pushes them to its proxies: endpoints on a proxy's own network
directly, endpoints on other networks through that network's east-west gateway (15443).

  add NAME --server URL --token FILE   a remote Bowline control plane: its API URL (through its east-west
                      gateway, docs/multicluster.md), a registry-read token (bowline api-token create
                      --scope registry-read) and, for an https API, --ca-file with its CA. The remote is
                      read once first: a remote under another root, or of another mesh id, is refused,
                      naming both roots or both ids (the control plane refuses it too); an unreachable
                      one is added with a warning (bowline cluster list shows its error).
  add NAME --kubeconfig FILE           a remote Kubernetes API (Istio's remote secret), read with the
                      Kubernetes registry; --network names the network of its endpoints without a label.
  list                every remote cluster with its state: synced, unreachable (last endpoints kept for
                      --remote-endpoint-grace), expired, refused, invalid or pending, and its error.
  remove NAME         stops reading it; its endpoints are dropped.

Each remote is a Secret NAMESPACE/istio-remote-secret-NAME labelled istio/multiCluster=true (the data key
NAME holds a kubeconfig), so kubectl apply of such a Secret works too.
`;

/** Runs `bowline cluster ...` with injectable I/O; resolves to the exit code. */
export async function runCluster(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    ...clientFlags,
    'server-api': { type: 'string' },
    token: { type: 'string' },
    'ca-file': { type: 'string' },
    kubeconfig: { type: 'string' },
    network: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    output: { type: 'string', short: 'o' },
  });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  const [sub, ...rest] = positionals;
  // --server names the remote for `add --server URL --token`; the local control plane is then --server-api.
  const remoteServer = sub === 'add' && values.token !== undefined ? values.server : undefined;
  const local = { ...values, server: remoteServer !== undefined ? values['server-api'] : (values['server-api'] ?? values.server) };
  const client = new ApiClient(resolveTarget(local, env));
  const namespace = values.namespace ?? 'istio-system';
  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await client.call(method, path, body);
    if (r.status < 200 || r.status > 299) throw apiFailure(r);
    return r.body as any;
  };
  const secretsPath = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  switch (sub) {
    case 'add': {
      if (rest.length !== 1) throw new UsageError('add needs exactly one NAME: bowline cluster add cluster-2 --server URL --token FILE');
      const name = rest[0]!;
      if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 63) throw new UsageError(`cluster NAME must be a DNS label such as cluster-2, got "${name}"`);
      let kind: 'bowline' | 'kubernetes';
      let kubeconfig: string;
      if (values.kubeconfig !== undefined) {
        if (values.token !== undefined || values['ca-file'] !== undefined) throw new UsageError('--kubeconfig carries its own server and credentials: drop --server/--token/--ca-file');
        kind = 'kubernetes';
        kubeconfig = readFileSync(values.kubeconfig, 'utf8');
      } else {
        if (remoteServer === undefined || values.token === undefined) throw new UsageError('add needs --server URL --token FILE (a remote Bowline control plane) or --kubeconfig FILE (a remote Kubernetes API)');
        if (!/^https?:\/\/[^/\s]+/.test(remoteServer)) throw new UsageError(`--server must be the remote's http(s) API URL, got "${remoteServer}"`);
        if (values.network !== undefined) throw new UsageError('a Bowline remote says its own network: drop --network');
        const token = readFileSync(values.token, 'utf8').trim();
        if (!token) throw new UsageError(`--token file ${values.token} is empty`);
        kind = 'bowline';
        kubeconfig = bowlineKubeconfig({ cluster: name, server: remoteServer, token, ...(values['ca-file'] ? { caPem: readFileSync(values['ca-file'], 'utf8') } : {}) });
        try {
          const view = await readRemoteView(kubeconfig);
          const bundle = await client.call('GET', '/v1/ca/trust-bundle');
          const localRoots = bundle.status === 200 ? String((bundle.body as { trustBundle?: unknown }).trustBundle ?? '') : '';
          const refused = rootMismatch(localRoots, view.roots, name);
          if (refused) throw Object.assign(new Error(refused), { code: 'BOWLINE_E_CA_ROOT_MISMATCH', refused: true });
          // This control plane's own registry view says its mesh id.
          const own = await client.call('GET', '/v1/registry?timeoutSeconds=0');
          const localMeshId = own.status === 200 ? (own.body as { meshId?: unknown }).meshId : undefined;
          const ids = typeof localMeshId === 'string' ? meshIdMismatch(localMeshId, view.meshId, name) : {};
          if (ids.refused) throw Object.assign(new Error(ids.refused), { code: 'BOWLINE_E_CLUSTER_MESH_ID_MISMATCH', refused: true });
          if (ids.unchecked) io.stderr(`bowline cluster: ${ids.unchecked}\n`);
          io.stderr(`cluster ${name}: ${remoteServer} answers as cluster ${view.cluster}${view.network ? ` on network ${view.network}` : ''} (${view.services.length} services, ${view.endpoints.length} endpoints, ${view.gateways.length} east-west gateways)\n`);
        } catch (err) {
          if ((err as { refused?: boolean }).refused) throw err;
          io.stderr(`bowline cluster: BOWLINE_W_CLUSTER_UNREACHABLE: ${remoteServer} cannot be read now (${(err as Error).message}); adding it anyway: the control plane keeps trying (bowline cluster list shows its state)\n`);
        }
      }
      const secret = remoteSecret({ cluster: name, namespace, kind, kubeconfig, ...(values.network ? { network: values.network } : {}) });
      const created = await client.call('POST', secretsPath, secret);
      if (created.status === 409) await ok('PUT', `${secretsPath}/${encodeURIComponent(remoteSecretName(name))}`, secret);
      else if (created.status < 200 || created.status > 299) throw apiFailure(created);
      io.stdout(`cluster ${name} added (Secret ${namespace}/${remoteSecretName(name)})\n`);
      return EXIT_OK;
    }
    case 'list': {
      if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
      const items = (await ok('GET', '/v1/clusters')).items as Array<{ name: string; kind: string; server: string; state: string; error?: string; lastSync?: string; services: number; endpoints: number }>;
      if (values.output === 'json') io.stdout(JSON.stringify(items, null, 2) + '\n');
      else if (values.output !== undefined && values.output !== 'table') throw new UsageError(`-o must be table or json, got "${values.output}"`);
      else if (items.length === 0) io.stderr('No remote clusters.\n');
      else io.stdout(alignColumns([['NAME', 'KIND', 'SERVER', 'STATE', 'SERVICES', 'ENDPOINTS', 'LAST SYNC', 'ERROR'], ...items.map((c) => [c.name, c.kind, c.server, c.state, String(c.services), String(c.endpoints), c.lastSync ?? '-', c.error ?? ''])]));
      return EXIT_OK;
    }
    case 'remove': {
      if (rest.length !== 1) throw new UsageError('remove needs exactly one NAME');
      const r = await client.call('DELETE', `${secretsPath}/${encodeURIComponent(remoteSecretName(rest[0]!))}`);
      if (r.status === 404) throw Object.assign(new Error(`no remote cluster ${rest[0]} (no Secret ${namespace}/${remoteSecretName(rest[0]!)}; bowline cluster list shows them)`), { code: 'BOWLINE_E_CLUSTER_NOT_FOUND' });
      if (r.status < 200 || r.status > 299) throw apiFailure(r);
      io.stdout(`cluster ${rest[0]} removed\n`);
      return EXIT_OK;
    }
    default:
      throw new UsageError(sub ? `unknown subcommand "${sub}": use add, list or remove` : 'missing subcommand: add, list or remove');
  }
}

/** `bowline cluster`: remote clusters of a multi-cluster mesh. */
export const command: Command = {
  name: 'cluster',
  summary: 'Add, list and remove remote clusters (a Bowline control plane or a Kubernetes API) whose services join this mesh',
  run: (args) => runCluster(args, processIO),
};
