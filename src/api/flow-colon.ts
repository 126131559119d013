import { isMap, isScalar, Scalar, visit, type Document } from 'yaml';

/**
 * Reads `[1.2.3.4, 2001:db8::]` as Kubernetes does. In a flow list, YAML 1.2 (our parser) ends a
 * plain scalar at a `:` that touches `,` or `]`, so `2001:db8::` becomes the map `{2001:db8:: null}`;
 * the Go YAML reader behind kubectl and the apiserver keeps the `:` and reads the string
 * `2001:db8::` (an IPv6 address ending in `::`). Such an item, a one-pair map whose plain key is
 * followed directly by `:` and `,`/`]`, is rewritten in place to that string, so files valid for
 * Istio on Kubernetes stay valid here. `a: ` with a space stays a map, as in Go.
 */
export function readFlowColonsAsKubernetes(doc: Document, text: string): void {
  visit(doc, {
    Seq(_key, seq) {
      if (!seq.flow) return;
      seq.items = seq.items.map((item) => {
        if (!isMap(item) || item.items.length !== 1) return item;
        const pair = item.items[0]!;
        const key = pair.key;
        const value = pair.value;
        if (!isScalar(key) || key.type !== 'PLAIN' || !key.range || (value !== null && !(isScalar(value) && value.source === ''))) return item;
        const end = key.range[1];
        if (text[end] !== ':' || !/[,\]]/.test(text[end + 1] ?? '')) return item;
        const s = new Scalar(`${text.slice(key.range[0], end)}:`);
        s.range = [key.range[0], end + 1, end + 1];
        return s;
      });
      return undefined;
    },
  });
}
