/**
 * The generator contract: one generator per proxy-config resource type, a pure function of
 * (snapshot, proxy). Output comes in parts: a part with a `scope` is identical for every proxy
 * of that scope (e.g. all sidecars of one namespace) and is built once per snapshot.
 */
import type { ChangeKind, MeshSnapshot } from '../../model/snapshot.js';
import type { NodeInfo, ResourceType } from '../../proxy-config/types.js';
import type { WorkloadAnnouncement } from '../../proxy-config/wire.js';

/** The proxy a config is generated for: its node identity and, for sidecars, its workload. */
export interface ProxyInfo {
  node: NodeInfo;
  workload?: WorkloadAnnouncement;
  /** How the proxy's stream proved its identity (absent: not known, e.g. a config dump or a test); see secretsAllowed. */
  credential?: 'plaintext' | 'token' | 'certificate';
}

/** One part of a generator's output. */
export interface OutputPart {
  /** Parts with the same scope string are identical for every proxy in one snapshot. `own:...` parts are per proxy. */
  scope: string;
  build(): unknown[];
}

/** A generator of one resource type. */
export interface Generator {
  type: ResourceType;
  /** The snapshot changes that can change this generator's output (for any proxy). */
  kinds: readonly ChangeKind[];
  /** The subset of `kinds` that can change one proxy's output (default `kinds`): lets the push skip proxies a change cannot affect. */
  kindsFor?(proxy: ProxyInfo): readonly ChangeKind[];
  /** The parts of a proxy's output for this type (names never repeat across parts). */
  parts(snap: MeshSnapshot, proxy: ProxyInfo): OutputPart[];
}

/** Builds a generator's whole output for one proxy, without caching (tests, config_dump). */
export function generateAll(gen: Generator, snap: MeshSnapshot, proxy: ProxyInfo): unknown[] {
  return gen.parts(snap, proxy).flatMap((p) => p.build());
}
