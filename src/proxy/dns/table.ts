/**
 * The DNS proxy's view of the pushed name table (ProxyConfig.names): exact names and aliases
 * first, then the longest wildcard (`*.example.com` answers `a.example.com` and `a.b.example.com`,
 * not `example.com`). Names compare case-insensitively, with or without the final dot.
 */
import { isIP } from 'node:net';
import type { NameEntry } from '../../proxy-config/types.js';

/** The addresses of a mesh name, split by family. */
export interface NameAnswer {
  /** The table entry's host (for logs). */
  host: string;
  v4: string[];
  v6: string[];
}

/** A compiled name table. */
export interface NameTable {
  /** The answer for `name`, or undefined when the name is not the mesh's (forward it). */
  lookup(name: string): NameAnswer | undefined;
  readonly size: number;
}

const norm = (n: string): string => n.toLowerCase().replace(/\.$/, '');

/** Compiles name entries into a lookup table. */
export function compileNameTable(entries: readonly NameEntry[] | undefined): NameTable {
  const exact = new Map<string, NameAnswer>();
  const wild: Array<{ suffix: string; answer: NameAnswer }> = [];
  for (const e of entries ?? []) {
    const answer: NameAnswer = { host: e.name, v4: e.addresses.filter((a) => isIP(a) === 4), v6: e.addresses.filter((a) => isIP(a) === 6) };
    for (const n of [e.name, ...(e.aliases ?? [])].map(norm)) {
      if (n.startsWith('*.')) wild.push({ suffix: n.slice(1), answer });
      else if (!exact.has(n)) exact.set(n, answer);
    }
  }
  wild.sort((a, b) => b.suffix.length - a.suffix.length);
  return {
    size: exact.size + wild.length,
    lookup(name) {
      const n = norm(name);
      return exact.get(n) ?? wild.find((w) => n.endsWith(w.suffix) && n.length > w.suffix.length)?.answer;
    },
  };
}
