/**
 * Header operations (Istio Headers: set / add / remove, for requests and responses, at route
 * and destination level). Compiled once; applied through a small sink interface so the
 * pipeline keeps its own header representation. Order as Envoy: remove, then set, then add;
 * route-level operations first, then destination-level.
 */
import type { HeaderOperations } from '../../proxy-config/types.js';

/** The three edits a header block supports; the pipeline implements it over its own headers. */
export interface HeaderSink {
  /** Replace every value of `name` with `value`. */
  set(name: string, value: string): void;
  /** Append a value for `name`, keeping existing ones. */
  add(name: string, value: string): void;
  /** Drop every value of `name`. */
  remove(name: string): void;
}

/** The operations for one direction, names lowercased. */
export interface HeaderMutation {
  remove: string[];
  set: Array<[string, string]>;
  add: Array<[string, string]>;
}

/** Header operations ready to apply; a direction with nothing to do is undefined. */
export interface CompiledHeaderOps {
  request?: HeaderMutation;
  response?: HeaderMutation;
}

function mutation(d: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] } | undefined): HeaderMutation | undefined {
  if (!d) return undefined;
  const m: HeaderMutation = {
    remove: (d.remove ?? []).map((n) => n.toLowerCase()),
    set: Object.entries(d.set ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    add: Object.entries(d.add ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  };
  return m.remove.length + m.set.length + m.add.length > 0 ? m : undefined;
}

/** Compiles header operations; undefined when there is nothing to do. */
export function compileHeaderOps(ops: HeaderOperations | undefined): CompiledHeaderOps | undefined {
  if (!ops) return undefined;
  const request = mutation(ops.request);
  const response = mutation(ops.response);
  if (!request && !response) return undefined;
  const c: CompiledHeaderOps = {};
  if (request) c.request = request;
  if (response) c.response = response;
  return c;
}

/** Applies one direction's operations to a header block (remove, set, add). */
export function applyHeaderMutation(m: HeaderMutation | undefined, sink: HeaderSink): void {
  if (!m) return;
  for (const n of m.remove) sink.remove(n);
  for (const [n, v] of m.set) sink.set(n, v);
  for (const [n, v] of m.add) sink.add(n, v);
}

/** A HeaderSink over a flat `[name, value, name, value, ...]` list (names compared case-insensitively). */
export function flatHeaderSink(list: string[]): HeaderSink {
  const drop = (name: string): void => {
    let w = 0;
    for (let r = 0; r < list.length; r += 2) {
      if (list[r]!.toLowerCase() !== name) {
        list[w++] = list[r]!;
        list[w++] = list[r + 1]!;
      }
    }
    list.length = w;
  };
  return {
    set(name, value) { drop(name); list.push(name, value); },
    add(name, value) { list.push(name, value); },
    remove: drop,
  };
}
