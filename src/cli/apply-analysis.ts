/**
 * `bowline apply`'s cross-document check of subsets. `validate` sees only its input, so a
 * VirtualService naming a subset that no DestinationRule in the input defines gets
 * BOWLINE_W_API_UNKNOWN_SUBSET. `apply` writes into a mesh that already has DestinationRules:
 * it keeps that warning only when neither the input (all `-f` files together) nor the server
 * defines the subset. If the server cannot list DestinationRules, the input-only warnings stand.
 */
import { analyzeResources, type Resource, type Violation } from '../api/index.js';
import { formatPath } from '../api/schema/dsl.js';
import { collectionPath, resolveKind } from '../control/kinds.js';
import type { ApiClient } from './client.js';
import type { Manifest } from './manifests.js';

/** The code of the warning this module re-checks. */
export const UNKNOWN_SUBSET = 'BOWLINE_W_API_UNKNOWN_SUBSET';

/**
 * Of the input-only `warnings` (UNKNOWN_SUBSET, from readManifests), those still true once every
 * input DestinationRule and the server's are known. `nsFlag` is apply's `-n`.
 */
export async function confirmSubsetWarnings(warnings: Violation[], manifests: Manifest[], nsFlag: string | undefined, client: ApiClient): Promise<Violation[]> {
  if (warnings.length === 0) return warnings;
  const input = manifests.map((m) => placed(m.obj, nsFlag));
  const own = new Set(input.filter((r) => r.kind === 'DestinationRule').map(nameKey));
  const server = await serverDestinationRules(client);
  if (server === undefined) return warnings;
  const all = [...input, ...server.filter((r) => !own.has(nameKey(r)))];
  const stands = new Set<string>();
  for (const { index, finding } of analyzeResources(all)) {
    const m = manifests[index];
    if (finding.code === UNKNOWN_SUBSET && m !== undefined) stands.add(where(m.file, m.docIndex, formatPath(finding.path)));
  }
  return warnings
    .filter((w) => stands.has(where(w.file ?? '', w.docIndex ?? 0, w.path)))
    .map((w) => ({ ...w, message: w.message.replace(/ in the input$/, ' in the input or on the server') }));
}

function where(file: string, docIndex: number, path: string): string {
  return `${file}\0${docIndex}\0${path}`;
}

/** The object as apply will store it: in its own namespace, else `-n`, else default. */
function placed(obj: Record<string, any>, nsFlag: string | undefined): Resource {
  return { ...obj, metadata: { ...obj.metadata, namespace: obj.metadata?.namespace ?? nsFlag ?? 'default' } } as Resource;
}

function nameKey(r: Resource): string {
  return `${r.metadata?.namespace ?? 'default'}/${r.metadata?.name ?? ''}`;
}

/** Every DestinationRule on the server (all namespaces), or undefined when they cannot be listed. */
async function serverDestinationRules(client: ApiClient): Promise<Resource[] | undefined> {
  const kind = resolveKind('DestinationRule');
  if (kind === undefined) return undefined;
  const r = await client.call('GET', collectionPath(kind));
  const items = (r.body as { items?: unknown } | undefined)?.items;
  return r.status === 200 && Array.isArray(items) ? (items as Resource[]) : undefined;
}
