/**
 * One answer shared by every caller for a short while: the dashboard's pages poll every few seconds,
 * and each poll of a view gathered from every replica would ask every peer again (and wait up to the
 * peers' deadline for a silent one). Within `ttlMs` of a gathering, callers get its answer (the same
 * promise while it is in flight); a gathering that failed is not kept.
 */
export function sharedFor<T>(ttlMs: number, gather: () => Promise<T>, now: () => number = Date.now): () => Promise<T> {
  let last: { at: number; answer: Promise<T> } | undefined;
  return () => {
    const t = now();
    if (last !== undefined && t - last.at < ttlMs) return last.answer;
    const entry = { at: t, answer: gather() };
    last = entry;
    entry.answer.catch(() => { if (last === entry) last = undefined; });
    return entry.answer;
  };
}
