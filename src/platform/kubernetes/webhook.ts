/**
 * The control plane's admission webhooks for Kubernetes, served over TLS on 15017 (Istio's port)
 * with a serving certificate from Bowline's CA, renewed at half-life and when the CA changes:
 * `POST /validate` (Istio resources) and `POST /inject` (Pods). The apiserver trusts the
 * certificate through the webhook configurations' `caBundle`, which ca-bundle.ts keeps patched.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { injectReview, parseReview, reviewResponse, ReviewError, validateReview, type InjectReviewOptions } from './admission-review.js';
import { INJECT_PATH, VALIDATE_PATH } from './names.js';

/** The CA calls the webhook server makes (src/ca's CertificateAuthority has them). */
export interface WebhookCa {
  issueServingCertificate(opts: { dnsNames?: string[]; ips?: string[] }): { keyPem: string; chainPem: string; notAfter: number };
  trustBundlePem(): string;
  onChange(listener: () => void): () => void;
}

/** How to serve the webhooks. */
export interface WebhookOptions {
  ca: WebhookCa;
  host: string;
  /** 15017 in a cluster; 0 lets the kernel pick (tests). */
  port: number;
  /** Names in the serving certificate: the Service's DNS names (`bowline.istio-system.svc`) and any other. */
  dnsNames: string[];
  ips?: string[];
  /** Serve `/validate` (default true). */
  validate?: boolean;
  /** Serve `/inject` with these options; undefined: injection is off (404). */
  inject?: InjectReviewOptions;
  log?: (line: string) => void;
}

/** The running webhook server. */
export interface WebhookServer {
  port: number;
  /** Counts by path and outcome (allowed, refused, patched, bad-request). */
  readonly counts: Map<string, number>;
  close(): Promise<void>;
}

/** Largest review accepted (the apiserver's own request limit is about 3 MB; a review holds one object). */
const MAX_BODY = 6 * 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new ReviewError(`the review is larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the webhook server; resolves once it listens. */
export async function startWebhookServer(o: WebhookOptions): Promise<WebhookServer> {
  const log = o.log ?? (() => {});
  const counts = new Map<string, number>();
  const count = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
  const material = () => {
    const c = o.ca.issueServingCertificate({ dnsNames: o.dnsNames, ips: o.ips ?? ['127.0.0.1'] });
    return { notAfter: c.notAfter, tls: { key: c.keyPem, cert: c.chainPem, minVersion: 'TLSv1.2' as const } };
  };
  let cur = material();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    const send = (status: number, body: unknown) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    };
    if (path === '/ready' || path === '/healthz') return send(200, 'ok\n');
    const kind = path === VALIDATE_PATH && o.validate !== false ? 'validate' : path === INJECT_PATH && o.inject ? 'inject' : undefined;
    if (!kind) return send(404, `no webhook at ${path} (served: ${[o.validate !== false ? VALIDATE_PATH : '', o.inject ? INJECT_PATH : ''].filter(Boolean).join(', ')})\n`);
    if (req.method !== 'POST') return send(405, 'POST an AdmissionReview\n');
    try {
      const review = parseReview(await readBody(req));
      const response = kind === 'validate' ? validateReview(review) : injectReview(review, o.inject!);
      count(`${kind}:${response.patch ? 'patched' : response.allowed ? 'allowed' : 'refused'}`);
      if (!response.allowed) log(`webhook ${kind}: refused ${review.kind?.kind ?? ''} ${review.namespace ?? ''}/${review.name ?? ''}: ${response.status?.message ?? ''}`);
      return send(200, reviewResponse(response));
    } catch (err) {
      if (!(err instanceof ReviewError)) throw err;
      count(`${kind}:bad-request`);
      return send(400, `${err.code}: ${err.message}\n`);
    }
  };
  const server: Server = createServer(cur.tls, (req, res) => {
    void handle(req, res).catch((err) => {
      log(`webhook: internal error on ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const renew = () => { cur = material(); server.setSecureContext(cur.tls); };
  const schedule = () => {
    timer = setTimeout(() => { renew(); schedule(); }, Math.min(2 ** 31 - 1, Math.max(1000, (cur.notAfter - Date.now()) / 2))).unref();
  };
  schedule();
  const unsubscribe = o.ca.onChange(renew);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  log(`webhooks: ${[o.validate !== false ? 'validation' : '', o.inject ? 'injection' : ''].filter(Boolean).join(' and ')} on https://${o.host}:${port} (certificate for ${o.dnsNames.join(', ')})`);
  return {
    port,
    counts,
    close: () => new Promise<void>((r) => {
      if (timer) clearTimeout(timer);
      unsubscribe();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
