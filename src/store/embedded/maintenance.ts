/**
 * Offline care of the embedded store's files (`bowline store check|repair|restore`, docs/store.md):
 * a read-only integrity report, a repair that cuts the store back to its last intact record (after
 * copying the damaged files aside), and a restore from a backup the running control plane made.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from '../store.js';
import { encodeRecord, scanLog, type LogDamage } from './log.js';
import { readSnapshot, type Snapshot, type SnapshotEntry } from './snapshot.js';
import { crc32 } from 'node:zlib';

/** What `bowline store check` reports. */
export interface StoreReport {
  dir: string;
  ok: boolean;
  snapshot: { present: boolean; revision?: number; entries?: number; error?: string };
  log: { present: boolean; bytes: number; records: number; marker?: number; damage?: LogDamage };
  /** One sentence per finding, worst first. */
  findings: string[];
}

/** A consistent copy of the whole store at one revision (`GET /v1/store/backup`). */
export interface StoreBackup {
  format: 'bowline-store-backup';
  version: 1;
  revision: number;
  createdAt: string;
  entries: SnapshotEntry[];
}

/** True when a live process holds the store (its LOCK names a running pid). */
export function storeInUse(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, 'LOCK'), 'utf8'));
    if (!pid) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Reads the store's files without changing them and says whether it would start, and what it holds. */
export function checkStore(dir: string): StoreReport {
  const findings: string[] = [];
  const snapPath = join(dir, 'snapshot.json');
  const walPath = join(dir, 'wal.log');
  const snapshot: StoreReport['snapshot'] = { present: existsSync(snapPath) };
  let snap: Snapshot | undefined;
  if (snapshot.present) {
    try {
      snap = readSnapshot(snapPath);
      snapshot.revision = snap!.revision;
      snapshot.entries = snap!.entries.length;
    } catch (err) {
      snapshot.error = (err as Error).message.split('. ')[0]!;
      findings.push(`${snapPath}: ${snapshot.error}`);
    }
  }
  const log: StoreReport['log'] = { present: existsSync(walPath), bytes: 0, records: 0 };
  if (log.present) {
    const data = readFileSync(walPath);
    const scan = scanLog(data);
    log.bytes = data.length;
    log.records = scan.records.filter((r) => r.t !== 's').length;
    if (scan.records[0]?.t === 's') log.marker = scan.records[0].r;
    if (scan.damage) {
      log.damage = scan.damage;
      const d = scan.damage;
      findings.push(d.kind === 'torn'
        ? `${walPath}: torn last record at byte ${d.offset} (${d.detail}); it was never acknowledged and is cut at the next start`
        : `${walPath}: damaged at byte ${d.offset} (${d.detail}); ${d.validAfter} intact record(s) follow: the store will not start`);
    }
  }
  if (log.marker !== undefined && log.marker > 0 && !snapshot.error && (!snap || snap.revision < log.marker)) {
    findings.push(`${walPath} follows a snapshot at revision ${log.marker}, but ${snap ? `${snapPath} is at revision ${snap.revision}` : `${snapPath} is missing`}: the store will not start`);
  }
  const ok = !snapshot.error && log.damage?.kind !== 'corrupt' && !findings.some((f) => f.includes('will not start'));
  return { dir, ok, snapshot, log, findings };
}

function stamp(now: Date): string {
  return now.toISOString().replace(/[:.]/g, '-');
}

function keepCopy(dir: string, what: string, now: Date): string {
  const copy = join(dir, `${what}-${stamp(now)}`);
  mkdirSync(copy, { recursive: true });
  for (const f of ['wal.log', 'snapshot.json']) if (existsSync(join(dir, f))) copyFileSync(join(dir, f), join(copy, f));
  return copy;
}

function refuseInUse(dir: string, verb: string): void {
  const pid = storeInUse(dir);
  if (pid) throw new StoreError('Unavailable', `the store in ${dir} is in use by process ${pid}: stop the control plane before \`bowline store ${verb}\``);
}

/**
 * `bowline store repair --to-last-good`: with the control plane stopped, copies the files aside
 * (`DIR/damaged-TIMESTAMP/`), cuts the log at its last intact record, sets aside a damaged snapshot,
 * and drops a log's reference to a missing snapshot. Returns the copy's path and what was done,
 * including how many intact records after the damage were given up.
 */
export function repairStore(dir: string, now = new Date()): { copy: string; actions: string[] } {
  refuseInUse(dir, 'repair');
  const report = checkStore(dir);
  const copy = keepCopy(dir, 'damaged', now);
  const actions: string[] = [];
  const walPath = join(dir, 'wal.log');
  const snapPath = join(dir, 'snapshot.json');
  if (report.snapshot.error) {
    renameSync(snapPath, join(copy, 'snapshot.json.damaged'));
    actions.push(`set aside the damaged ${snapPath} (the store restarts from the log alone)`);
  }
  if (report.log.present) {
    const data = readFileSync(walPath);
    const scan = scanLog(data);
    let keep = scan.records;
    const dropMarker = keep[0]?.t === 's' && (report.snapshot.error !== undefined || !report.snapshot.present || (report.snapshot.revision ?? 0) < keep[0].r);
    if (dropMarker) {
      keep = keep.slice(1);
      actions.push('dropped the log\'s reference to a snapshot that is missing or damaged (the objects only that snapshot held are gone; restore a backup to get them back)');
    }
    if (scan.damage || dropMarker) {
      writeFileSync(walPath, Buffer.concat(keep.map((r) => encodeRecord(r))));
      if (scan.damage) actions.push(`cut ${walPath} at byte ${scan.damage.offset}: kept ${keep.filter((r) => r.t !== 's').length} record(s), gave up ${scan.damage.validAfter} intact record(s) after the damage`);
    }
  }
  if (actions.length === 0) actions.push('nothing to repair');
  return { copy, actions };
}

/** Checks a backup file's shape; returns it. Throws StoreError Invalid. */
export function parseBackup(text: string, file = 'backup'): StoreBackup {
  let b: StoreBackup;
  try {
    b = JSON.parse(text) as StoreBackup;
  } catch (err) {
    throw new StoreError('Invalid', `${file} is not JSON: ${(err as Error).message}`);
  }
  if (b?.format !== 'bowline-store-backup' || b.version !== 1 || !Number.isInteger(b.revision) || !Array.isArray(b.entries)) {
    throw new StoreError('Invalid', `${file} is not a Bowline store backup (bowline store backup FILE writes one)`);
  }
  for (const e of b.entries) if (typeof e?.k !== 'string' || typeof e.v !== 'string' || !Number.isInteger(e.r) || !Number.isInteger(e.c)) throw new StoreError('Invalid', `${file}: an entry lacks k, v, r or c`);
  return b;
}

/**
 * `bowline store restore FILE`: with the control plane stopped, keeps the current files under
 * `DIR/before-restore-TIMESTAMP/`, then writes the backup as the store's snapshot and a log that
 * names it. Returns the copy's path.
 */
export function restoreStore(dir: string, backup: StoreBackup, now = new Date()): { copy: string } {
  refuseInUse(dir, 'restore');
  mkdirSync(dir, { recursive: true });
  const copy = keepCopy(dir, 'before-restore', now);
  const body = Buffer.from(JSON.stringify({ revision: backup.revision, entries: backup.entries } satisfies Snapshot), 'utf8');
  writeFileSync(join(dir, 'snapshot.json.tmp'), Buffer.concat([Buffer.from(`${crc32(body)}\n`), body]));
  renameSync(join(dir, 'snapshot.json.tmp'), join(dir, 'snapshot.json'));
  writeFileSync(join(dir, 'wal.log'), encodeRecord({ t: 's', r: backup.revision }));
  return { copy };
}
