/**
 * Layered layout for the service graph: entry nodes (the gateway, callers nobody calls) on the
 * left, each node one column right of its deepest caller, versions of a service stacked together.
 */

/** A node's box in the drawing. */
export interface Placed {
  id: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Node width, height and spacing used by the drawing. */
export const NODE_W = 150;
export const NODE_H = 34;
const COL_GAP = 230;
const ROW_GAP = 14;
const GROUP_GAP = 26;

/** Places `nodes` (with `group` keys) given directed `edges`; returns boxes and the drawing size. */
export function layout(nodes: Array<{ id: string; group: string; kind: string }>, edges: Array<{ from: string; to: string }>): { boxes: Map<string, Placed>; width: number; height: number } {
  const depth = new Map<string, number>();
  const incoming = new Map<string, string[]>();
  for (const e of edges) if (e.from !== e.to) (incoming.get(e.to) ?? incoming.set(e.to, []).get(e.to)!).push(e.from);
  const visiting = new Set<string>();
  const d = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle: cut it here
    visiting.add(id);
    const kind = nodes.find((n) => n.id === id)?.kind;
    const ins = kind === 'gateway' ? [] : incoming.get(id) ?? [];
    const v = ins.length ? Math.max(...ins.map(d)) + 1 : 0;
    visiting.delete(id);
    depth.set(id, v);
    return v;
  };
  for (const n of nodes) d(n.id);
  // A group's versions share the column of its deepest member.
  const groupDepth = new Map<string, number>();
  for (const n of nodes) groupDepth.set(n.group, Math.max(groupDepth.get(n.group) ?? 0, depth.get(n.id) ?? 0));
  const columns = new Map<number, Array<{ id: string; group: string }>>();
  for (const n of nodes) {
    const c = groupDepth.get(n.group) ?? 0;
    (columns.get(c) ?? columns.set(c, []).get(c)!).push(n);
  }
  const boxes = new Map<string, Placed>();
  let height = 0;
  for (const [c, list] of columns) {
    list.sort((a, b) => (a.group === b.group ? (a.id < b.id ? -1 : 1) : a.group < b.group ? -1 : 1));
    let y = 30;
    let prev: string | undefined;
    for (const n of list) {
      if (prev !== undefined && prev !== n.group) y += GROUP_GAP;
      boxes.set(n.id, { id: n.id, x: 20 + c * (NODE_W + COL_GAP), y, w: NODE_W, h: NODE_H });
      y += NODE_H + ROW_GAP;
      prev = n.group;
    }
    height = Math.max(height, y + 10);
  }
  const width = 40 + (Math.max(0, ...columns.keys()) + 1) * (NODE_W + COL_GAP) - COL_GAP;
  return { boxes, width, height };
}
