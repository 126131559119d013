import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { formatPath, toCamel, type Finding, type Path } from './schema/dsl.js';
import type { Violation } from './types/meta.js';

/** 1-based position in source text. */
export interface Position { line: number; column: number }

/** Finds a field path in a parsed YAML document and returns the source position of its value (or key). */
export type Locator = (path: Path, atKey?: boolean) => Position;

function keyText(k: unknown): string | undefined {
  if (isScalar(k)) return String(k.value);
  return undefined;
}

/** Builds a locator for one document: walks maps and lists along the path, stopping at the deepest node that exists. */
export function locator(doc: Document, lc: LineCounter, fallbackOffset: number): Locator {
  const pos = (offset: number): Position => {
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  return (path, atKey) => {
    let node: unknown = doc.contents;
    let best = (node as Node | null)?.range?.[0] ?? fallbackOffset;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      let guard = 0;
      while (isAlias(node) && guard++ < 10) node = (node as { resolve(d: Document): unknown }).resolve(doc);
      if (isMap(node)) {
        const items = node.items;
        const pair = items.find((p) => keyText(p.key) === String(seg)) ?? items.find((p) => toCamel(keyText(p.key) ?? '') === String(seg));
        if (!pair) break;
        const keyStart = (pair.key as Node | null)?.range?.[0];
        if (i === path.length - 1 && atKey && keyStart !== undefined) return pos(keyStart);
        node = pair.value;
        const vStart = (node as Node | null)?.range?.[0];
        const isNullScalar = isScalar(node) && node.value === null && node.source === undefined;
        best = !isNullScalar && vStart !== undefined ? vStart : keyStart ?? best;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        const start = (node as Node | null)?.range?.[0];
        if (start === undefined) break;
        best = start;
      } else break;
    }
    return pos(best);
  };
}

/** Converts an internal finding into a located violation. */
export function toViolation(f: Finding, loc: Locator | undefined, file: string | undefined, docIndex: number): Violation {
  const p = loc?.(f.path, f.atKey);
  const v: Violation = { severity: f.severity ?? 'error', code: f.code, path: formatPath(f.path), message: f.message };
  if (f.hint) v.hint = f.hint;
  if (file !== undefined) v.file = file;
  if (p) {
    v.line = p.line;
    v.column = p.column;
  }
  v.docIndex = docIndex;
  return v;
}
