import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { parseMeshConfig, type MeshConfig, type Violation } from '../api/index.js';
import { startInformer } from '../store/informer.js';
import type { Store, StoredObject, Watch } from '../store/index.js';
import { mergePatch } from './merge-patch.js';

/** Thrown when `--mesh-config FILE` cannot be used; carries the violations. */
export class MeshConfigError extends Error {
  override name = 'MeshConfigError';
  readonly code = 'BOWLINE_E_CONTROL_MESH_CONFIG';
  constructor(message: string, readonly violations: Violation[] = []) {
    super(message);
  }
}

/** Where the mesh config comes from: defaults < --mesh-config file < the `istio` ConfigMap < explicit flags. */
export interface MeshSourceOptions {
  file?: string;
  rootNamespace?: string;
  trustDomain?: string;
  /** `bowline up --mesh-id`: Istio's meshId (install value `global.meshID`); default the mesh config's `defaultConfig.meshId`, else the trust domain. */
  meshId?: string;
  log?: (line: string) => void;
}

/**
 * The mesh id, as Istio derives it: `bowline up --mesh-id` (install value `global.meshID`), else the mesh
 * config's `defaultConfig.meshId` (ProxyConfig meshId), else the trust domain. A top-level `meshId` is
 * not Istio's MeshConfig: it is answered with BOWLINE_W_API_MESH_UNKNOWN_FIELD and not read.
 */
export function meshIdOf(mesh: MeshConfig, flag: string | undefined): string {
  if (flag) return flag;
  const dc = mesh.defaultConfig?.meshId;
  return typeof dc === 'string' && dc !== '' ? dc : mesh.trustDomain;
}

function plain(text: string): Record<string, unknown> {
  try {
    const v = parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The current mesh config, kept in step with the `istio` ConfigMap in the root namespace. */
export class MeshConfigSource {
  private fileText = '';
  private current: MeshConfig;
  private watch: Watch | undefined;
  private listeners = new Set<(m: MeshConfig) => void>();

  constructor(private readonly opts: MeshSourceOptions) {
    if (opts.file) {
      try {
        this.fileText = readFileSync(opts.file, 'utf8');
      } catch (err) {
        throw new MeshConfigError(`cannot read --mesh-config ${opts.file}: ${(err as Error).message}`);
      }
      const errors = parseMeshConfig(this.fileText, { file: opts.file }).violations.filter((v) => v.severity === 'error');
      if (errors.length) {
        throw new MeshConfigError(`--mesh-config ${opts.file} is invalid:\n${errors.map((v) => `  ${v.file ?? opts.file}:${v.line ?? 1}:${v.column ?? 1} ${v.code} ${v.path}: ${v.message}`).join('\n')}`, errors);
      }
    }
    this.current = this.compute(undefined);
  }

  /** The namespace holding the `istio` ConfigMap and mesh-wide policy. */
  get rootNamespace(): string {
    return this.opts.rootNamespace ?? this.compute(undefined).rootNamespace;
  }

  /** The mesh config now. */
  get(): MeshConfig {
    return this.current;
  }

  /** Calls `fn` after every change; returns a function that stops it. */
  subscribe(fn: (m: MeshConfig) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Loads the ConfigMap and follows its changes. */
  async start(store: Store): Promise<void> {
    const ns = this.rootNamespace;
    const load = (cm: StoredObject | undefined) => {
      const next = this.compute(cm);
      if (JSON.stringify(next) === JSON.stringify(this.current)) return;
      this.current = next;
      this.opts.log?.(`mesh config: updated from ${cm ? `ConfigMap ${ns}/istio` : 'defaults and --mesh-config'}`);
      for (const fn of this.listeners) fn(next);
    };
    // Listed again whenever the watch expires (startInformer).
    this.watch = await startInformer(store, {
      kinds: ['ConfigMap'], namespace: ns,
      onList: (items) => load(items.find((o) => o.metadata.name === 'istio')),
      onEvent: (ev) => { if (ev.object.metadata.name === 'istio') load(ev.type === 'DELETED' ? undefined : ev.object); },
      ...(this.opts.log ? { log: this.opts.log } : {}),
    });
  }

  stop(): void {
    this.watch?.close();
  }

  private compute(cm: StoredObject | undefined): MeshConfig {
    let merged = plain(this.fileText);
    const text = (cm?.data as Record<string, unknown> | undefined)?.mesh;
    if (typeof text === 'string') merged = mergePatch(merged, plain(text)) as Record<string, unknown>;
    const mesh = parseMeshConfig(Object.keys(merged).length ? stringify(merged) : '').mesh;
    if (this.opts.trustDomain) mesh.trustDomain = this.opts.trustDomain;
    if (this.opts.rootNamespace) mesh.rootNamespace = this.opts.rootNamespace;
    mesh.meshId = meshIdOf(mesh, this.opts.meshId);
    return mesh;
  }
}
