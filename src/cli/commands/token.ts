import { parseDuration } from '../../api/duration.js';
import { ApiClient, failureLine, processIO, resolveTarget, UnreachableError, type CliIO } from '../client.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline token create --namespace NS --service-account SA [--workload NAME] [--ttl 1h]
                             [--max-uses N] [-o token|json] [--server URL] [--home DIR]

Mints a bootstrap token at the control plane (an admin operation: loopback or the admin token).
The token lets exactly spiffe://TRUST_DOMAIN/ns/NS/sa/SA get its first certificate, once, before
it expires, and carries the control plane's root certificate hash so the proxy can verify the
control plane on first contact. Give it to the proxy: bowline proxy --token-file FILE.
With --max-uses N the token is a join token for up to N instances of that identity (for example
the tasks of a Marathon app, docs/platforms/marathon.md): each instance gets its own certificate,
and the N+1st use is refused (BOWLINE_E_TOKEN_EXHAUSTED).
The token alone goes to stdout (bowline token create ... > token), details to stderr.
`;

/** Runs `bowline token create` with injectable I/O; resolves to the exit code. */
export async function runToken(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    ...clientFlags,
    namespace: { type: 'string', short: 'n' },
    'service-account': { type: 'string' },
    workload: { type: 'string' },
    ttl: { type: 'string', default: '1h' },
    'max-uses': { type: 'string' },
    output: { type: 'string', short: 'o', default: 'token' },
  });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  if (positionals[0] !== 'create' || positionals.length > 1) throw new UsageError(positionals[0] ? `unknown subcommand "${positionals.join(' ')}": use \`bowline token create\`` : 'missing subcommand: bowline token create ...');
  if (!values.namespace) throw new UsageError('--namespace is required');
  if (!values['service-account']) throw new UsageError('--service-account is required');
  const ttlMs = parseDuration(values.ttl!);
  if (!ttlMs) throw new UsageError(`--ttl must be a positive duration such as 1h, 30m or 24h (got "${values.ttl}")`);
  if (!['token', 'json'].includes(values.output!)) throw new UsageError(`-o must be token or json, got "${values.output}"`);
  let maxUses: number | undefined;
  if (values['max-uses'] !== undefined) {
    maxUses = Number(values['max-uses']);
    if (!Number.isInteger(maxUses) || maxUses < 1) throw new UsageError(`--max-uses must be a positive integer, got "${values['max-uses']}"`);
  }
  const client = new ApiClient(resolveTarget(values, env));
  const body = { namespace: values.namespace, serviceAccount: values['service-account'], ttlMs, ...(values.workload ? { workload: values.workload } : {}), ...(maxUses !== undefined ? { maxUses } : {}) };
  let r;
  try {
    r = await client.call('POST', '/v1/tokens', body);
  } catch (err) {
    if (err instanceof UnreachableError) { io.stderr(failureLine('token', err)); return EXIT_INVALID; }
    throw err;
  }
  if (r.status === 404) {
    io.stderr(`bowline token: BOWLINE_E_CLI_API: the control plane at ${client.target.server} does not serve /v1/tokens (is the CA plugin enabled?)\n`);
    return EXIT_INVALID;
  }
  if (r.status !== 201) {
    io.stderr(failureLine('token', r));
    return EXIT_INVALID;
  }
  const out = r.body as { token: string; expiresAt: string; spiffeId: string; rootHash: string; maxUses?: number };
  if (values.output === 'json') io.stdout(JSON.stringify(out, null, 2) + '\n');
  else {
    io.stdout(out.token + '\n');
    io.stderr(`token for ${out.spiffeId}, ${(out.maxUses ?? 1) > 1 ? `up to ${out.maxUses} uses` : 'single use'}, expires ${out.expiresAt}; pins root ${out.rootHash}\n`);
  }
  return EXIT_OK;
}

/** `bowline token create`: mints a bootstrap token for one workload identity. */
export const command: Command = {
  name: 'token',
  summary: 'Create a bootstrap token that lets one workload identity get its first certificate',
  run: (args) => runToken(args, processIO),
};
