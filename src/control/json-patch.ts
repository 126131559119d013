import { badRequest, ApiError } from './status.js';

/** Applies a JSON patch (RFC 6902: add, remove, replace, move, copy, test) to a copy of `doc`. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('a json-patch body must be a JSON array of operations');
  let root = structuredClone(doc);
  ops.forEach((op, i) => {
    if (!op || typeof op !== 'object') throw badRequest(`json-patch operation ${i} is not an object`);
    const o = op as { op?: unknown; path?: unknown; from?: unknown; value?: unknown };
    if (typeof o.path !== 'string') throw badRequest(`json-patch operation ${i} needs a string "path"`);
    const need = (what: string) => { if (!(what in o)) throw badRequest(`json-patch operation ${i} (${String(o.op)}) needs "${what}"`); };
    switch (o.op) {
      case 'add': need('value'); root = put(root, o.path, structuredClone(o.value), true, i); break;
      case 'replace': need('value'); get(root, o.path, i); root = put(root, o.path, structuredClone(o.value), false, i); break;
      case 'remove': root = del(root, o.path, i); break;
      case 'move': {
        if (typeof o.from !== 'string') throw badRequest(`json-patch operation ${i} (move) needs a string "from"`);
        const v = get(root, o.from, i);
        root = put(del(root, o.from, i), o.path, v, true, i);
        break;
      }
      case 'copy': {
        if (typeof o.from !== 'string') throw badRequest(`json-patch operation ${i} (copy) needs a string "from"`);
        root = put(root, o.path, structuredClone(get(root, o.from, i)), true, i);
        break;
      }
      case 'test': need('value');
        if (JSON.stringify(get(root, o.path, i)) !== JSON.stringify(o.value)) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: json-patch test operation ${i} failed at ${o.path}`);
        break;
      default: throw badRequest(`json-patch operation ${i}: unknown op "${String(o.op)}" (add, remove, replace, move, copy, test)`);
    }
  });
  return root;
}

function tokens(pointer: string, i: number): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`json-patch operation ${i}: path "${pointer}" must start with "/"`);
  return pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function missing(pointer: string, i: number): ApiError {
  return new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: json-patch operation ${i}: path ${pointer} does not exist`);
}

function child(parent: unknown, t: string, pointer: string, i: number): unknown {
  if (Array.isArray(parent)) {
    if (!/^(0|[1-9]\d*)$/.test(t) || Number(t) >= parent.length) throw missing(pointer, i);
    return parent[Number(t)];
  }
  if (parent && typeof parent === 'object' && Object.prototype.hasOwnProperty.call(parent, t)) return (parent as Record<string, unknown>)[t];
  throw missing(pointer, i);
}

function get(root: unknown, pointer: string, i: number): unknown {
  let cur = root;
  for (const t of tokens(pointer, i)) cur = child(cur, t, pointer, i);
  return cur;
}

function parentOf(root: unknown, pointer: string, i: number): { parent: unknown; last: string } {
  const ts = tokens(pointer, i);
  const last = ts.pop()!;
  let cur = root;
  for (const t of ts) cur = child(cur, t, pointer, i);
  if (!cur || typeof cur !== 'object') throw missing(pointer, i);
  return { parent: cur, last };
}

function put(root: unknown, pointer: string, value: unknown, insert: boolean, i: number): unknown {
  if (pointer === '') return value;
  const { parent, last } = parentOf(root, pointer, i);
  if (Array.isArray(parent)) {
    const idx = last === '-' ? parent.length : /^(0|[1-9]\d*)$/.test(last) ? Number(last) : -1;
    if (idx < 0 || idx > parent.length || (!insert && idx >= parent.length)) throw missing(pointer, i);
    if (insert) parent.splice(idx, 0, value); else parent[idx] = value;
  } else {
    (parent as Record<string, unknown>)[last] = value;
  }
  return root;
}

function del(root: unknown, pointer: string, i: number): unknown {
  if (pointer === '') throw badRequest(`json-patch operation ${i}: cannot remove the whole object`);
  const { parent, last } = parentOf(root, pointer, i);
  child(parent, last, pointer, i);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete (parent as Record<string, unknown>)[last];
  return root;
}
