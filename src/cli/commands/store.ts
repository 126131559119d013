import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkStore, parseBackup, repairStore, restoreStore } from '../../store/embedded/maintenance.js';
import { isStoreError } from '../../store/index.js';
import { ApiClient, bowlineHome, processIO, resolveTarget, UnreachableError, type CliIO } from '../client.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline store check [--home DIR] [-o text|json]
       bowline store repair --to-last-good [--home DIR]
       bowline store backup FILE [--server URL] [--home DIR]
       bowline store restore FILE [--home DIR]

The embedded store (HOME/store: snapshot.json and the write-ahead log wal.log). docs/store.md.

  check        reads the files (safe while the control plane runs) and says whether the store
               would start: a torn last record (never acknowledged; cut at start) or damage that
               would lose acknowledged writes (the control plane refuses to start). Exit 1 if damaged.
  repair --to-last-good
               control plane stopped: copies the files to HOME/store/damaged-TIMESTAMP/, cuts the
               log at its last intact record, sets aside a damaged snapshot. Says how many intact
               records after the damage were given up (restore a backup instead to keep them).
  backup FILE  asks the running control plane for a consistent copy of the whole store at one
               revision (GET /v1/store/backup, admin) and writes it to FILE. etcd users keep
               etcd's own snapshots (etcdctl snapshot save).
  restore FILE control plane stopped: keeps the current files in HOME/store/before-restore-TIMESTAMP/
               and makes the store exactly the backup.
`;

/** Runs `bowline store ...` with injectable I/O; resolves to the exit code. */
export async function runStore(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...clientFlags, 'to-last-good': { type: 'boolean', default: false }, output: { type: 'string', short: 'o', default: 'text' } });
  if (values.help) { io.stdout(usage); return EXIT_OK; }
  const [sub, file, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  const dir = join(bowlineHome(values.home, env), 'store');
  const fail = (code: string, msg: string) => { io.stderr(`bowline store: ${code}: ${msg}\n`); return EXIT_INVALID; };
  try {
    switch (sub) {
      case 'check': {
        const r = checkStore(dir);
        if (values.output === 'json') io.stdout(JSON.stringify(r, null, 2) + '\n');
        else {
          io.stdout(`store ${dir}: ${r.ok ? 'OK' : 'DAMAGED'}\n  snapshot: ${r.snapshot.present ? (r.snapshot.error ? 'damaged' : `revision ${r.snapshot.revision}, ${r.snapshot.entries} keys`) : 'none'}\n  log: ${r.log.present ? `${r.log.bytes} bytes, ${r.log.records} intact records${r.log.marker !== undefined ? `, follows the snapshot at revision ${r.log.marker}` : ''}` : 'none'}\n`);
          for (const f of r.findings) io.stdout(`  - ${f}\n`);
          if (!r.ok) io.stdout(`  recover: bowline store restore FILE (a backup), or bowline store repair --to-last-good (keeps a copy)\n`);
        }
        return r.ok ? EXIT_OK : EXIT_INVALID;
      }
      case 'repair': {
        if (!values['to-last-good']) throw new UsageError('repair needs --to-last-good (it gives up any intact records after the damage; a copy of the files is kept)');
        const r = repairStore(dir);
        io.stdout(`copied the store's files to ${r.copy}\n${r.actions.map((a) => `- ${a}\n`).join('')}`);
        return EXIT_OK;
      }
      case 'backup': {
        if (!file) throw new UsageError('backup needs a FILE');
        const client = new ApiClient(resolveTarget(values, env));
        let res;
        try {
          res = await client.call('GET', '/v1/store/backup');
        } catch (err) {
          if (err instanceof UnreachableError) return fail(err.code, err.message);
          throw err;
        }
        if (res.status !== 200) {
          const b = (res.body ?? {}) as { message?: string; error?: { code?: string; message?: string } };
          return fail(b.error?.code ?? 'BOWLINE_E_STORE_BACKUP', b.error?.message ?? b.message ?? `HTTP ${res.status}`);
        }
        const backup = parseBackup(JSON.stringify(res.body), 'the control plane\'s answer');
        writeFileSync(file, JSON.stringify(backup) + '\n', { mode: 0o600 });
        io.stdout(`wrote ${file}: ${backup.entries.length} keys at revision ${backup.revision}\n`);
        return EXIT_OK;
      }
      case 'restore': {
        if (!file) throw new UsageError('restore needs a FILE');
        const backup = parseBackup(readFileSync(file, 'utf8'), file);
        const r = restoreStore(dir, backup);
        io.stdout(`restored ${backup.entries.length} keys at revision ${backup.revision} into ${dir}; the previous files are in ${r.copy}\n`);
        return EXIT_OK;
      }
      default:
        throw new UsageError(sub ? `unknown subcommand "${sub}": use check, repair, backup or restore` : 'missing subcommand: check, repair, backup or restore');
    }
  } catch (err) {
    if (isStoreError(err)) return fail(err.code, err.message);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fail('BOWLINE_E_CLI_FILE', (err as Error).message);
    throw err;
  }
}

/** `bowline store`: check, repair, back up and restore the embedded store. */
export const command: Command = {
  name: 'store',
  summary: 'Check, repair, back up and restore the embedded store',
  run: (args) => runStore(args, processIO),
};
