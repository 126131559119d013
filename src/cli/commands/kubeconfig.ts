import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { bowlineHome, processIO, resolveTarget, type CliIO } from '../client.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, type Command } from '../command.js';

const usage = `Usage: bowline kubeconfig [--file FILE] [--namespace NS] [--server URL] [--home DIR]

Writes a kubeconfig for the control plane (server, CA data when the API serves HTTPS, the admin
token as bearer token) to stdout, or to FILE (mode 0600). Then kubectl needs no flags:
  bowline kubeconfig --file ~/.kube/bowline && KUBECONFIG=~/.kube/bowline kubectl get vs -A
`;

/** The kubeconfig YAML for a server, an optional CA bundle (PEM) and a bearer token. */
export function kubeconfigYaml(server: string, token: string | undefined, caPem: string | undefined, namespace = 'default'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'bowline', cluster: { server, ...(caPem ? { 'certificate-authority-data': Buffer.from(caPem).toString('base64') } : {}) } }],
    users: [{ name: 'bowline-admin', user: token ? { token } : {} }],
    contexts: [{ name: 'bowline', context: { cluster: 'bowline', user: 'bowline-admin', namespace } }],
    'current-context': 'bowline',
    preferences: {},
  });
}

/** Runs `bowline kubeconfig` with injectable I/O; resolves to the exit code. */
export async function runKubeconfig(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseFlags(args, { ...clientFlags, file: { type: 'string' }, namespace: { type: 'string', short: 'n' } }, { allowPositionals: false });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  const target = resolveTarget(values, env);
  let ca: string | undefined;
  if (target.server.startsWith('https://')) {
    try {
      ca = readFileSync(join(bowlineHome(values.home, env), 'api-ca.pem'), 'utf8');
    } catch (err) {
      io.stderr(`bowline kubeconfig: BOWLINE_E_CLI_READ: the API serves HTTPS but its CA bundle is unreadable: ${(err as Error).message}\n`);
      return EXIT_INVALID;
    }
  }
  const text = kubeconfigYaml(target.server, target.token, ca, values.namespace ?? 'default');
  if (values.file) {
    writeFileSync(values.file, text, { mode: 0o600 });
    io.stderr(`bowline kubeconfig: wrote ${values.file} (server ${target.server})\n`);
  } else io.stdout(text);
  return EXIT_OK;
}

/** `bowline kubeconfig`. */
export const command: Command = {
  name: 'kubeconfig',
  summary: 'Write a kubeconfig (server, CA data, admin token) so kubectl drives Bowline without flags',
  run: (args) => runKubeconfig(args, processIO),
};
