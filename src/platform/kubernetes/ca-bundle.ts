/**
 * Keeps the `caBundle` of Bowline's webhook configurations equal to the CA's trust bundle, as
 * istiod does: the install manifests cannot know the root (the CA creates it at first start), so
 * the control plane writes it into every webhook of the named Validating- and
 * MutatingWebhookConfigurations at start, when the CA changes (root rotation), and on a timer
 * (someone re-applied the manifests with an empty bundle). A configuration that does not exist
 * (that webhook is turned off) is skipped; an apiserver error is logged and retried on the next round.
 */
import { AdmissionregistrationV1Api, type KubeConfig, type V1MutatingWebhookConfiguration, type V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';

/** What the patcher reads the bundle from. */
export interface BundleSource {
  trustBundlePem(): string;
  onChange(listener: () => void): () => void;
}

/** The running patcher. */
export interface CaBundlePatcher {
  /** One round now; resolves to the names of the configurations it changed. */
  sync(): Promise<string[]>;
  stop(): void;
}

function status(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown };
  return typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
}

/** Starts patching `validating` and `mutating` (configuration names) every `intervalMs` and on CA changes. */
export function startCaBundlePatcher(kc: KubeConfig, ca: BundleSource, names: { validating?: string; mutating?: string }, opts: { intervalMs?: number; log?: (line: string) => void; isLeader?: () => boolean } = {}): CaBundlePatcher {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const log = opts.log ?? (() => {});
  const missingLogged = new Set<string>();
  const lastError = new Map<string, string>(); // the same failure is logged once, not every round
  const one = async <T extends V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration>(kind: string, name: string, read: () => Promise<T>, replace: (body: T) => Promise<unknown>): Promise<boolean> => {
    const bundle = Buffer.from(ca.trustBundlePem()).toString('base64');
    for (let attempt = 0; attempt < 3; attempt++) {
      let cfg: T;
      try {
        cfg = await read();
      } catch (err) {
        if (status(err) === 404) {
          if (!missingLogged.has(name)) log(`webhooks: ${kind} ${name} does not exist (that webhook is turned off); not patching its caBundle`);
          missingLogged.add(name);
          return false;
        }
        throw err;
      }
      missingLogged.delete(name);
      const hooks = cfg.webhooks ?? [];
      if (hooks.every((h) => h.clientConfig?.caBundle === bundle)) return false;
      for (const h of hooks) h.clientConfig = { ...h.clientConfig, caBundle: bundle };
      try {
        await replace(cfg);
        return true;
      } catch (err) {
        if (status(err) !== 409) throw err; // changed meanwhile: read again
      }
    }
    throw new Error(`${kind} ${name} kept changing while its caBundle was being written`);
  };
  const sync = async (): Promise<string[]> => {
    const changed: string[] = [];
    const jobs: Array<[string, () => Promise<boolean>]> = [];
    if (names.validating) {
      const name = names.validating;
      jobs.push([name, () => one('ValidatingWebhookConfiguration', name, () => api.readValidatingWebhookConfiguration({ name }), (body) => api.replaceValidatingWebhookConfiguration({ name, body }))]);
    }
    if (names.mutating) {
      const name = names.mutating;
      jobs.push([name, () => one('MutatingWebhookConfiguration', name, () => api.readMutatingWebhookConfiguration({ name }), (body) => api.replaceMutatingWebhookConfiguration({ name, body }))]);
    }
    for (const [name, job] of jobs) {
      try {
        if (await job()) { changed.push(name); log(`webhooks: caBundle of ${name} set to the CA's trust bundle`); }
        lastError.delete(name);
      } catch (err) {
        if (lastError.get(name) === (err as Error).message) continue;
        lastError.set(name, (err as Error).message);
        log(`webhooks: cannot patch the caBundle of ${name}: ${(err as Error).message} (retrying in ${Math.round((opts.intervalMs ?? 5_000) / 1000)} s)`);
      }
    }
    return changed;
  };
  let stopped = false;
  const kick = () => { if (!stopped && (opts.isLeader?.() ?? true)) void sync(); }; // replicas: only the leader patches
  const timer = setInterval(kick, opts.intervalMs ?? 5_000);
  timer.unref();
  const unsubscribe = ca.onChange(kick);
  return { sync, stop: () => { stopped = true; clearInterval(timer); unsubscribe(); } };
}
