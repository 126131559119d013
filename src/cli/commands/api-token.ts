import { parseDuration } from '../../api/duration.js';
import { ApiClient, apiFailure, processIO, resolveTarget, type CliIO } from '../client.js';
import { clientFlags, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';
import { alignColumns } from '../printers.js';

const usage = `Usage: bowline api-token create --scope SCOPE NAME [--ttl DURATION] [-o token|json]
       bowline api-token list [-o table|json]
       bowline api-token revoke ID_OR_NAME
       bowline api-token rotate-admin [--grace DURATION]
       (all take --server URL --home DIR; they are admin operations: loopback or the admin token)

Scoped API tokens, so nothing but an operator needs the admin token (docs/security.md):
  admin          everything the admin token can do
  read-only      reads of the config API, /debug views and /metrics; no Secret values, no
                 config_dump (it may hold keys), no backup
  registry-read  what a remote cluster's control plane reads: /debug/registryz and ServiceEntry,
                 WorkloadEntry, WorkloadGroup and Namespace reads
  viewer         the web dashboard (/ui/): paste the token into its login form

create prints the token alone on stdout (the only time it is shown; the control plane keeps a
hash) and lasts until revoked unless --ttl is given (e.g. 720h). rotate-admin replaces the admin
token in HOME/admin-token of the control plane answering; with --grace 10m the old one keeps
working that long (at most 1h). Every call is in the audit log (HOME/audit.log).
`;

/** Runs `bowline api-token ...` with injectable I/O; resolves to the exit code (failures throw: `bowline api-token: CODE: message`). */
export async function runApiToken(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    ...clientFlags,
    scope: { type: 'string' },
    ttl: { type: 'string' },
    grace: { type: 'string' },
    output: { type: 'string', short: 'o' },
  });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  const [sub, ...rest] = positionals;
  const client = new ApiClient(resolveTarget(values, env));
  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await client.call(method, path, body);
    if (r.status < 200 || r.status > 299) throw apiFailure(r);
    return r.body as any;
  };
  switch (sub) {
    case 'create': {
      if (rest.length !== 1) throw new UsageError('create needs exactly one NAME: bowline api-token create --scope viewer NAME');
      if (!values.scope) throw new UsageError('--scope is required: admin, read-only, registry-read or viewer');
      const output = values.output ?? 'token';
      if (!['token', 'json'].includes(output)) throw new UsageError(`-o must be token or json, got "${output}"`);
      let ttlMs: number | undefined;
      if (values.ttl !== undefined) {
        ttlMs = parseDuration(values.ttl);
        if (!ttlMs) throw new UsageError(`--ttl must be a positive duration such as 720h or 30m (got "${values.ttl}")`);
      }
      const out = await ok('POST', '/v1/auth/tokens', { name: rest[0], scope: values.scope, ...(ttlMs !== undefined ? { ttlMs } : {}) });
      if (output === 'json') io.stdout(JSON.stringify(out, null, 2) + '\n');
      else {
        io.stdout(out.token + '\n');
        io.stderr(`API token ${out.name} (${out.id}), scope ${out.scope}, ${out.expiresAt ? `expires ${out.expiresAt}` : 'until revoked'}; shown once: the control plane keeps only a hash\n`);
      }
      return EXIT_OK;
    }
    case 'list': {
      if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
      const items = (await ok('GET', '/v1/auth/tokens')).items as Array<{ id: string; name: string; scope: string; createdAt: string; expiresAt?: string; createdBy: string }>;
      if (values.output === 'json') io.stdout(JSON.stringify(items, null, 2) + '\n');
      else if (values.output !== undefined && values.output !== 'table') throw new UsageError(`-o must be table or json, got "${values.output}"`);
      else if (items.length === 0) io.stderr('No API tokens.\n');
      else io.stdout(alignColumns([['NAME', 'ID', 'SCOPE', 'CREATED', 'EXPIRES', 'CREATED BY'], ...items.map((t) => [t.name, t.id, t.scope, t.createdAt, t.expiresAt ?? 'never', t.createdBy])]));
      return EXIT_OK;
    }
    case 'revoke': {
      if (rest.length !== 1) throw new UsageError('revoke needs exactly one ID_OR_NAME');
      const out = await ok('DELETE', `/v1/auth/tokens/${encodeURIComponent(rest[0]!)}`);
      io.stderr(`revoked API token ${out.revoked.name} (${out.revoked.id}, scope ${out.revoked.scope})\n`);
      return EXIT_OK;
    }
    case 'rotate-admin': {
      if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
      let graceMs = 0;
      if (values.grace !== undefined) {
        const g = parseDuration(values.grace);
        if (g === undefined) throw new UsageError(`--grace must be a duration such as 10m (got "${values.grace}")`);
        graceMs = Math.round(g);
      }
      const out = await ok('POST', '/v1/auth/admin-token/rotate', { graceMs });
      io.stderr(`admin token rotated: the new one is in ${out.file} on the control plane's host${graceMs > 0 ? `; the old one works for ${values.grace} more` : '; the old one no longer works'}\n`);
      return EXIT_OK;
    }
    default:
      throw new UsageError(sub ? `unknown subcommand "${sub}": use create, list, revoke or rotate-admin` : 'missing subcommand: create, list, revoke or rotate-admin');
  }
}

/** `bowline api-token`: scoped API tokens and admin token rotation. */
export const command: Command = {
  name: 'api-token',
  summary: 'Create, list and revoke scoped API tokens (read-only, registry-read, viewer, admin); rotate the admin token',
  run: (args) => runApiToken(args, processIO),
};
