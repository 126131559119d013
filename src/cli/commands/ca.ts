import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDuration } from '../../api/duration.js';
import { createRootCa, isCaError } from '../../ca/index.js';
import { createIntermediateCa } from '../../ca/intermediate.js';
import { runCaRotation } from './ca-rotation.js';
import { processIO, type CliIO } from '../client.js';
import { errorLine, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline ca root -o DIR [--trust-domain TD] [--ttl 87600h]
       bowline ca intermediate --root DIR --cluster NAME -o DIR [--trust-domain TD] [--ttl 8760h]
       bowline ca rotation status|start|issue-from-new|finish   (a running mesh's root; bowline ca rotation -h)

Shared trust for a mesh of several clusters (Istio's "plug in CA certificates"), offline:
  root           creates a self-signed root CA: DIR/root-cert.pem and DIR/root-key.pem (mode 0600).
                 Keep root-key.pem offline; only intermediates are handed to clusters.
  intermediate   creates a CA for one cluster, signed by the root in --root DIR, as Istio's four
                 cacerts files: ca-cert.pem, ca-key.pem (0600), root-cert.pem, cert-chain.pem
                 (intermediate then root). Use them with \`bowline up --ca-certs-dir DIR\`, or as the
                 cacerts Secret: kubectl create secret generic -n istio-system cacerts --from-file=DIR/...
Every cluster's workloads then carry certificates chaining to the one root, and trust each other.
An existing key in DIR is never overwritten.
`;

function writeFiles(dir: string, files: Record<string, string>, secret: string[]): void {
  mkdirSync(dir, { recursive: true });
  for (const name of Object.keys(files)) if (existsSync(join(dir, name)) && secret.includes(name)) throw new UsageError(`${join(dir, name)} exists; refusing to overwrite a CA key (choose another -o DIR)`);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, { mode: secret.includes(name) ? 0o600 : 0o644 });
}

function ttl(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (!ms) throw new UsageError(`--ttl must be a positive duration such as 8760h (got "${value}")`);
  return ms;
}

/** Runs `bowline ca root|intermediate|rotation`; resolves to the exit code. */
export async function runCa(args: string[], io: Pick<CliIO, 'stdout' | 'stderr'>, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (args[0] === 'rotation') return runCaRotation(args.slice(1), io, env);
  const { values, positionals } = parseFlags(args, {
    output: { type: 'string', short: 'o' },
    root: { type: 'string' },
    cluster: { type: 'string' },
    'trust-domain': { type: 'string' },
    ttl: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  const sub = positionals[0];
  if (sub !== 'root' && sub !== 'intermediate') throw new UsageError(sub ? `unknown subcommand "${sub}": use \`bowline ca root\`, \`bowline ca intermediate\` or \`bowline ca rotation\`` : 'missing subcommand: bowline ca root|intermediate|rotation');
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  if (!values.output) throw new UsageError('-o DIR is required');
  const trustDomain = values['trust-domain'] ?? 'cluster.local';
  try {
    if (sub === 'root') {
      const root = await createRootCa({ trustDomain, lifetimeMs: ttl(values.ttl, 10 * 365 * 24 * 3600_000) });
      writeFiles(values.output, { 'root-cert.pem': root.certPem, 'root-key.pem': root.keyPem }, ['root-key.pem']);
      io.stdout(`root CA written to ${values.output}/root-cert.pem (key ${values.output}/root-key.pem: keep it offline)\n`);
      return EXIT_OK;
    }
    if (!values.root) throw new UsageError('--root DIR is required (a directory from `bowline ca root -o DIR`)');
    if (!values.cluster) throw new UsageError('--cluster NAME is required');
    const read = (name: string) => {
      try {
        return readFileSync(join(values.root!, name), 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read ${join(values.root!, name)}: ${(err as Error).message}`);
      }
    };
    const files = await createIntermediateCa({ root: { certPem: read('root-cert.pem'), keyPem: read('root-key.pem') }, cluster: values.cluster, trustDomain, lifetimeMs: ttl(values.ttl, 365 * 24 * 3600_000) });
    writeFiles(values.output, { ...files }, ['ca-key.pem']);
    io.stdout(`intermediate CA for cluster ${values.cluster} written to ${values.output}: ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem (bowline up --ca-certs-dir ${values.output})\n`);
    return EXIT_OK;
  } catch (err) {
    if (!isCaError(err)) throw err;
    io.stderr(`bowline ca: ${errorLine(err)}\n`);
    return EXIT_INVALID;
  }
}

/** `bowline ca`. */
export const command: Command = {
  name: 'ca',
  summary: 'Offline root and per-cluster intermediate CAs (Istio cacerts files); rotate a running mesh\'s root',
  run: (args) => runCa(args, processIO),
};
