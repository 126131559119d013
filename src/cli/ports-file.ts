// `--ports-file FILE`: the ports a process bound (port 0 picks one), as one JSON object, for the
// scripts and tests that start it. Written by `bowline up` and `bowline proxy`, read by the demo.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/**
 * Writes `ports` as JSON to `file` atomically (a temporary file renamed over it), so a reader
 * never sees half a file. Returns the text written, so callers can skip unchanged rewrites.
 */
export function writePortsFile(file: string, ports: object): string {
  const text = JSON.stringify(ports) + '\n';
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
  return text;
}

/** The ports in `file` when it exists and names every one of `keys` as a number; else undefined. */
export function readPortsFile(file: string, keys: string[] = []): Record<string, number> | undefined {
  try {
    const ports = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
    return keys.every((k) => typeof ports[k] === 'number') ? ports : undefined;
  } catch {
    return undefined;
  }
}
