import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { checkDocument } from './document.js';
import { readFlowColonsAsKubernetes } from './flow-colon.js';
import { locator, toViolation, type Locator } from './locate.js';
import { isObj } from './schema/walk.js';
import type { Path } from './schema/dsl.js';
import { meshConfigFromConfigMap } from './mesh-config.js';
import { registerLocator, analyzeDocuments } from './analyze.js';
import type { ParsedDocument, Violation } from './types/meta.js';

/** Largest input accepted, in characters (Kubernetes objects are at most ~1.5 MB each). */
export const MAX_INPUT_CHARS = 16 * 1024 * 1024;
/** Largest number of alias expansions per document (guards against alias bombs). */
export const MAX_ALIAS_COUNT = 1000;

const yamlCodes: Record<string, string> = {
  DUPLICATE_KEY: 'BOWLINE_E_API_DUPLICATE_KEY',
  TAB_AS_INDENT: 'BOWLINE_E_API_YAML_TAB',
  BAD_INDENT: 'BOWLINE_E_API_YAML_INDENT',
};

function fileViolation(code: string, message: string, file?: string, hint?: string): Violation {
  return { severity: 'error', code, path: '', message, hint, file, line: 1, column: 1 };
}

function looksBinary(text: string): boolean {
  if (text.includes('\u0000')) return true;
  const sample = text.slice(0, 8192);
  let bad = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 0xfffd) bad++;
  }
  return sample.length > 0 && bad / sample.length > 0.05;
}

/** Parses multi-document YAML or JSON text and validates every document. Never throws. */
export function parseAndValidate(text: string, opts: { file?: string; ignoreUnknownKinds?: boolean; analyze?: boolean } = {}): { documents: ParsedDocument[]; violations: Violation[] } {
  const file = opts.file;
  try {
    if (typeof text !== 'string') return { documents: [], violations: [fileViolation('BOWLINE_E_API_READ', 'input is not text', file)] };
    if (text.length > MAX_INPUT_CHARS) {
      return { documents: [], violations: [fileViolation('BOWLINE_E_API_TOO_LARGE', `input is ${(text.length / 1048576).toFixed(1)} MB: the limit is ${MAX_INPUT_CHARS / 1048576} MB`, file, 'split it into smaller files')] };
    }
    if (looksBinary(text)) return { documents: [], violations: [fileViolation('BOWLINE_E_API_BINARY', 'input looks like binary data, not YAML or JSON text', file)] };
    const documents = parseDocuments(text, file, !!opts.ignoreUnknownKinds);
    if (opts.analyze !== false) {
      for (const v of analyzeDocuments(documents)) {
        documents.find((d) => d.docIndex === v.docIndex)?.violations.push(v);
      }
    }
    for (const d of documents) d.violations.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    return { documents, violations: documents.flatMap((d) => d.violations) };
  } catch (err) {
    const v = fileViolation('BOWLINE_E_API_INTERNAL', `internal error while validating: ${(err as Error)?.message ?? String(err)}`, file, 'please report this with the input file');
    return { documents: [], violations: [v] };
  }
}

/** The items of a v1 List (`kind: List`, or `KINDList` as the config API lists), a message when it is malformed, or undefined. */
function listItems(js: unknown): unknown[] | string | undefined {
  if (!isObj(js) || typeof js.kind !== 'string' || !/^[A-Za-z]*List$/.test(js.kind) || (js.kind === 'List' && js.apiVersion !== undefined && js.apiVersion !== 'v1')) return undefined;
  if (!Array.isArray(js.items)) return `a ${js.kind} needs items: a list of resources`;
  return js.items;
}

/** Checks one object (a document, or an item of a List at `prefix`) into `pd`. */
function checkInto(pd: ParsedDocument, js: unknown, loc: Locator, file: string | undefined, ignoreUnknownKinds: boolean, prefix: Path = []): void {
  const check = checkDocument(js, { ignoreUnknownKinds });
  if (check.kind !== undefined) pd.kind = check.kind;
  if (check.apiVersion !== undefined) pd.apiVersion = check.apiVersion;
  for (const f of check.findings) pd.violations.push(toViolation({ ...f, path: [...prefix, ...f.path] }, (path, atKey) => loc(path.slice(prefix.length), atKey), file, pd.docIndex));
  if (check.meshConfigMap) {
    const mc = meshConfigFromConfigMap(js as Record<string, unknown>, loc, file);
    pd.violations.push(...mc.violations.map((v) => ({ ...v, docIndex: pd.docIndex })));
    if (mc.mesh) pd.meshConfig = mc.mesh;
  }
  if (check.resource) {
    pd.resource = check.resource;
    registerLocator(pd, loc, file);
  }
}

function parseDocuments(text: string, file: string | undefined, ignoreUnknownKinds: boolean): ParsedDocument[] {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, strict: true }) as unknown as Document[];
  const out: ParsedDocument[] = [];
  const list = Array.isArray(docs) ? docs : [];
  list.forEach((doc, docIndex) => {
    const start = doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0;
    const line = lc.linePos(start).line;
    const pd: ParsedDocument = { docIndex, line, violations: [] };
    out.push(pd);
    const yamlErrors = [...doc.errors, ...doc.warnings.map((w) => Object.assign(w, { warning: true }))];
    for (const e of yamlErrors) {
      const p = lc.linePos(e.pos[0]);
      const warning = (e as { warning?: boolean }).warning === true;
      const code = yamlCodes[e.code] ?? (warning ? 'BOWLINE_W_API_YAML' : 'BOWLINE_E_API_YAML');
      const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+.*$/, '');
      pd.violations.push({ severity: warning ? 'warning' : 'error', code, path: '', message: `YAML: ${message}`, ...(file !== undefined ? { file } : {}), line: p.line, column: p.col, docIndex, ...(e.code === 'TAB_AS_INDENT' ? { hint: 'indent with spaces; YAML forbids tabs for indentation' } : {}) });
    }
    if (doc.errors.length > 0) return;
    if (doc.contents === null) return; // an empty document (e.g. a trailing ---) is fine
    readFlowColonsAsKubernetes(doc, text);
    let js: unknown;
    try {
      js = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      pd.violations.push({ severity: 'error', code: 'BOWLINE_E_API_ALIAS_BOMB', path: '', message: `aliases expand too far (${(err as Error).message}): refusing to expand more than ${MAX_ALIAS_COUNT}`, ...(file !== undefined ? { file } : {}), line, column: 1, docIndex });
      return;
    }
    if (js === null || js === undefined) return; // a document with only comments or a bare ---
    const loc = locator(doc, lc, start);
    const items = listItems(js);
    if (!items) return checkInto(pd, js, loc, file, ignoreUnknownKinds);
    if (typeof items === 'string') {
      pd.kind = 'List';
      pd.violations.push({ severity: 'error', code: 'BOWLINE_E_API_LIST', path: 'items', message: items, ...(file !== undefined ? { file } : {}), ...loc(['items']), docIndex });
      return;
    }
    out.pop();
    if (items.length === 0) out.push({ ...pd, kind: 'List' });
    items.forEach((item, i) => {
      const itemLoc: Locator = (path, atKey) => loc(['items', i, ...path], atKey);
      const ipd: ParsedDocument = { docIndex, item: i, line: itemLoc([]).line, violations: [] };
      out.push(ipd);
      checkInto(ipd, item, itemLoc, file, ignoreUnknownKinds, ['items', i]);
    });
  });
  return out;
}
