/**
 * Kubernetes `AdmissionReview` (admission.k8s.io/v1) for the two webhooks: decide on a request,
 * answer with a response. Pure functions; webhook.ts serves them over TLS.
 *
 * - Validation: an Istio resource being created or updated is checked with Bowline's validator
 *   (src/api); errors refuse it with every violation's `CODE path: message` (the text `bowline
 *   validate` prints), warnings go back as admission warnings (kubectl prints them).
 * - Injection: a Pod being created gets the JSONPatch of inject.ts. When injection fails, the
 *   answer follows the webhook's failurePolicy: `Fail` refuses the pod with the reason, `Ignore`
 *   admits it unchanged with the reason as a warning. Never a silent drop either way.
 */
import { validateObject } from '../../api/index.js';
import { injectPod, InjectError, podPatch, type IdentitySource, type InjectOptions, type Json } from './inject.js';

/** The request part of an AdmissionReview (the fields the webhooks read). */
export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  namespace?: string;
  name?: string;
  operation?: string;
  object?: Json;
  dryRun?: boolean;
}

/** The response part of an AdmissionReview. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

/** A malformed review: answered with HTTP 400 and this message. */
export class ReviewError extends Error {
  readonly code = 'BOWLINE_E_KUBE_WEBHOOK_REQUEST';
  override name = 'ReviewError';
}

/** Reads the request out of an AdmissionReview v1 body. */
export function parseReview(body: string): AdmissionRequest {
  let v: unknown;
  try { v = JSON.parse(body); } catch (err) { throw new ReviewError(`the body is not JSON: ${(err as Error).message}`); }
  const review = v as { apiVersion?: unknown; kind?: unknown; request?: AdmissionRequest };
  if (!review || typeof review !== 'object' || review.kind !== 'AdmissionReview') throw new ReviewError('the body is not an AdmissionReview');
  if (review.apiVersion !== 'admission.k8s.io/v1') throw new ReviewError(`AdmissionReview ${String(review.apiVersion)} is not supported: set admissionReviewVersions: ["v1"]`);
  const req = review.request;
  if (!req || typeof req !== 'object' || typeof req.uid !== 'string' || req.uid === '') throw new ReviewError('the AdmissionReview has no request.uid');
  return req;
}

/** The AdmissionReview v1 answer to send back. */
export function reviewResponse(response: AdmissionResponse): Json {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

const clean = (s: string): string => s.replace(/[\r\n]+/g, ' ');

/** Validates an Istio resource being created or updated. */
export function validateReview(req: AdmissionRequest): AdmissionResponse {
  const uid = req.uid;
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return { uid, allowed: true };
  if (!req.object || typeof req.object !== 'object') return { uid, allowed: false, status: { code: 400, reason: 'BadRequest', message: `${req.operation} without an object` } };
  const violations = validateObject(req.object);
  const text = (v: (typeof violations)[number]) => clean(`${v.code} ${v.path ? v.path + ': ' : ''}${v.message}${v.hint ? ` (${v.hint})` : ''}`);
  const errors = violations.filter((v) => v.severity === 'error');
  const warnings = violations.filter((v) => v.severity === 'warning').map(text);
  const what = `${req.kind?.kind ?? String(req.object['kind'] ?? 'resource')} ${req.namespace ? `${req.namespace}/` : ''}${req.name ?? ''}`.trim();
  if (errors.length) {
    return { uid, allowed: false, status: { code: 400, reason: 'Invalid', message: `${what} is invalid: ${errors.map(text).join('; ')}` }, ...(warnings.length ? { warnings } : {}) };
  }
  return { uid, allowed: true, ...(warnings.length ? { warnings } : {}) };
}

/** What the injection webhook needs beyond the injector's options: how to mint each pod's token. */
export interface InjectReviewOptions extends Omit<InjectOptions, 'identity'> {
  /** Mints a single-use bootstrap token for (namespace, service account, pod). */
  mintToken(ns: string, sa: string, workload: string): string;
  /** The webhook configuration's failurePolicy (default Fail). */
  failurePolicy?: 'Fail' | 'Ignore';
  /** Identity from a Secret (a join token per service account) or the pod's projected service-account token, instead of a minted token. */
  identity?: Extract<IdentitySource, { kind: 'secret' }> | { kind: 'projected'; rootHash(): string };
}

/** Injects a Pod being created; a pod that must not be injected is admitted unchanged. */
export function injectReview(req: AdmissionRequest, opts: InjectReviewOptions): AdmissionResponse {
  const uid = req.uid;
  if (req.operation !== 'CREATE' || req.kind?.kind !== 'Pod' || !req.object) return { uid, allowed: true };
  const pod = req.object;
  const meta = (pod['metadata'] && typeof pod['metadata'] === 'object' ? pod['metadata'] : {}) as Json;
  const spec = (pod['spec'] && typeof pod['spec'] === 'object' ? pod['spec'] : {}) as Json;
  const namespace = req.namespace || (typeof meta['namespace'] === 'string' ? meta['namespace'] : 'default');
  const podName = String(meta['name'] || meta['generateName'] || 'pod');
  try {
    const sa = typeof spec['serviceAccountName'] === 'string' && spec['serviceAccountName'] ? spec['serviceAccountName'] : 'default';
    const probe = injectPod(meta, spec, { ...opts, identity: { kind: 'secret' } }); // decides to skip before a token is minted
    if ('skipped' in probe) return { uid, allowed: true };
    const identity: IdentitySource = opts.identity?.kind === 'projected' ? { kind: 'projected', rootHash: opts.identity.rootHash() } // the root signing now
      : opts.identity ?? { kind: 'minted', token: opts.mintToken(namespace, sa, podName.replace(/-+$/, '')) };
    const r = injectPod(meta, spec, { ...opts, identity });
    if ('skipped' in r) return { uid, allowed: true };
    const patch = podPatch({ meta, spec }, r);
    return { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') };
  } catch (err) {
    const reason = `bowline sidecar injection failed for pod ${namespace}/${podName}: ${err instanceof InjectError ? '' : 'internal error: '}${clean((err as Error).message)}`;
    if ((opts.failurePolicy ?? 'Fail') === 'Ignore') return { uid, allowed: true, warnings: [`${reason}; the pod was admitted without a sidecar (failurePolicy Ignore)`] };
    const bad = err instanceof InjectError;
    return { uid, allowed: false, status: { code: bad ? 400 : 500, reason: bad ? 'BadRequest' : 'InternalError', message: `${reason} (failurePolicy Fail: the pod is refused; fix it or set sidecar.istio.io/inject: "false")` } };
  }
}
