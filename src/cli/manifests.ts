import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseAndValidate, type Violation } from '../api/index.js';

/** One object read from `-f`: where it came from and its JSON form. */
export interface Manifest {
  file: string;
  /** 1-based line where its document starts. */
  line: number;
  /** 0-based index of its document in the file (as Violation.docIndex). */
  docIndex: number;
  obj: Record<string, any>;
}

/** Everything read from `-f` inputs: the objects, and every violation found (errors stop apply). */
export interface ReadResult {
  manifests: Manifest[];
  violations: Violation[];
}

/**
 * The .yaml/.yml/.json files under `dir`, sorted, recursively (32 levels at most); hidden
 * entries, node_modules and dist are skipped. Used by `-f DIR` in validate, apply and delete.
 */
export function listConfigFiles(dir: string, out: string[] = [], depth = 0): string[] {
  if (depth > 32) return out;
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.') || e.name === 'node_modules' || e.name === 'dist') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) listConfigFiles(p, out, depth + 1);
    else if (e.isFile() && ['.yaml', '.yml', '.json'].includes(extname(e.name).toLowerCase())) out.push(p);
  }
  return out;
}

/** Reads files, directories (recursively: .yaml/.yml/.json) and `-` (stdin), validating every document with src/api. */
export async function readManifests(paths: string[], readStdin: () => Promise<string>): Promise<ReadResult> {
  const manifests: Manifest[] = [];
  const violations: Violation[] = [];
  for (const p of paths) {
    const files: Array<{ file: string; text?: string }> = [];
    if (p === '-') {
      files.push({ file: '<stdin>', text: await readStdin() });
    } else {
      let isDir: boolean;
      try {
        isDir = statSync(p).isDirectory();
      } catch (err) {
        violations.push({ severity: 'error', code: 'BOWLINE_E_CLI_READ', path: '', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file: p, line: 1, column: 1 });
        continue;
      }
      if (isDir) {
        files.push(...listConfigFiles(p).map((file) => ({ file })));
      } else {
        files.push({ file: p });
      }
    }
    for (const f of files) {
      let text = f.text;
      if (text === undefined) {
        try {
          text = readFileSync(f.file, 'utf8');
        } catch (err) {
          violations.push({ severity: 'error', code: 'BOWLINE_E_CLI_READ', path: '', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file: f.file, line: 1, column: 1 });
          continue;
        }
      }
      const checked = parseAndValidate(text, { file: f.file });
      violations.push(...checked.violations.map((v) => ({ ...v, file: v.file ?? f.file })));
      if (checked.violations.some((v) => v.severity === 'error')) continue;
      const docs = parseAllDocuments(text);
      const list = Array.isArray(docs) ? docs : [];
      list.forEach((doc, i) => {
        const obj = doc.toJS({ maxAliasCount: 1000 }) as unknown;
        if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return;
        const parsed = checked.documents.filter((d) => d.docIndex === i);
        const items = (obj as { items?: unknown }).items;
        if (parsed.some((d) => d.item !== undefined) && Array.isArray(items)) {
          // A v1 List (as `bowline get -o yaml` writes it): one manifest per item.
          items.forEach((item, j) => {
            if (item && typeof item === 'object' && !Array.isArray(item)) manifests.push({ file: f.file, line: parsed.find((d) => d.item === j)?.line ?? 1, docIndex: i, obj: item as Record<string, any> });
          });
          return;
        }
        if (parsed.some((d) => d.kind === 'List')) return;
        manifests.push({ file: f.file, line: parsed[0]?.line ?? 1, docIndex: i, obj: obj as Record<string, any> });
      });
    }
  }
  return { manifests, violations };
}

/** A violation the way `bowline validate` prints it: `file:line:col CODE path: message`. */
export function formatViolation(v: Violation): string {
  const where = `${v.file ?? '<input>'}:${v.line ?? 1}:${v.column ?? 1}`;
  const head = `${where} ${v.code}${v.path ? ` ${v.path}` : ''}: ${v.message}`;
  return v.hint ? `${head}\n    hint: ${v.hint}` : head;
}
