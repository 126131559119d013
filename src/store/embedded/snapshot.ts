import { existsSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { StoreError } from '../store.js';
import { recoveryHint } from './log.js';

/** One key in a snapshot, with its lease expiry (wall-clock ms) when it has a TTL. */
export interface SnapshotEntry {
  k: string;
  v: string;
  r: number;
  c: number;
  ttl?: number;
  exp?: number;
}

/** The whole key space at one revision. */
export interface Snapshot {
  revision: number;
  entries: SnapshotEntry[];
}

/** Writes a snapshot crash-safely: temp file, fsync, rename over the old one, fsync the directory. */
export async function writeSnapshot(path: string, snap: Snapshot): Promise<void> {
  const body = Buffer.from(JSON.stringify(snap), 'utf8');
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(`${crc32(body)}\n`);
    await fh.write(body);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Reads a snapshot (undefined if none); throws if its checksum does not match. */
export function readSnapshot(path: string): Snapshot | undefined {
  if (!existsSync(path)) return undefined;
  const data = readFileSync(path);
  const nl = data.indexOf(10);
  const body = data.subarray(nl + 1);
  if (nl < 0 || Number(data.subarray(0, nl).toString()) !== crc32(body)) {
    throw new StoreError('Corrupt', `store snapshot ${path} is damaged (checksum mismatch over ${data.length} bytes): refusing to start rather than lose acknowledged data. ${recoveryHint(dirname(path))}`);
  }
  try {
    return JSON.parse(body.toString('utf8')) as Snapshot;
  } catch (err) {
    throw new StoreError('Corrupt', `store snapshot ${path} is not JSON although its checksum matches: ${(err as Error).message}. ${recoveryHint(dirname(path))}`);
  }
}
