/**
 * Kubernetes label selectors in their object form (`matchLabels` and `matchExpressions`, as in
 * MeshConfig `discoverySelectors`): every requirement of one selector must hold; an empty
 * selector selects everything.
 */

/** One set-based requirement. */
export interface LabelRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** A metav1.LabelSelector. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelRequirement[];
}

/** Whether `labels` satisfy every requirement of `sel`. */
export function selectorMatches(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const r of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(l, r.key);
    switch (r.operator) {
      case 'In': if (!has || !(r.values ?? []).includes(l[r.key]!)) return false; break;
      case 'NotIn': if (has && (r.values ?? []).includes(l[r.key]!)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false; // an operator we do not know selects nothing (validation refuses it first)
    }
  }
  return true;
}

/** Whether any selector of the list selects `labels` (Istio's OR over discoverySelectors); no list: everything. */
export function anySelectorMatches(selectors: readonly LabelSelector[] | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selectors || selectors.length === 0) return true;
  return selectors.some((s) => selectorMatches(s, labels));
}
