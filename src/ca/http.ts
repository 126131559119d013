import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDuration } from '../api/duration.js';
import type { CertificateAuthority } from './authority.js';
import { peerChainPem } from './stream.js';
import { CA_ERRORS, CaError, type CaErrorCode } from './errors.js';
import { spiffeId } from './spiffe.js';
import { rootCertificateHash } from './token.js';

/**
 * The CA's HTTP API, for the control plane to mount on its API server (and on the TLS port 15012):
 *   POST /v1/tokens              admin: mint a bootstrap token       {namespace, serviceAccount, workload?, ttl? | ttlMs?, maxUses?}
 *   GET  /v1/ca/trust-bundle     anyone: the roots to pin and trust   -> {trustDomain, trustBundle, rootHash}
 *   POST /v1/ca/certificates     a proxy: sign its CSR                {csr, token?} -> {certificateChain, trustBundle, ...}
 *   GET  /v1/ca/rotation         where a root rotation stands        -> RotationStatus
 *   POST /v1/ca/rotation         admin: one rotation step            {step: start|issue-from-new|finish, trustFirst?, force?} -> RotationStatus
 * Certificate requests are authenticated by the client certificate of a TLS connection (renewal) or,
 * on first contact, by a bootstrap token in the body; the CA signs only the identity that proves.
 */

/** How the mounting server decides who is an admin and how big bodies may be. */
export interface CaHttpOptions {
  /** Whether the caller may mint tokens. Default: connections from loopback only. */
  isAdmin?: (req: IncomingMessage) => boolean;
  /** Largest request body accepted, default 64 KiB. */
  maxBodyBytes?: number;
}

/** One mounted endpoint. */
export interface CaRoute {
  method: 'GET' | 'POST';
  path: string;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

const STATUS: Partial<Record<CaErrorCode, number>> = {
  [CA_ERRORS.BAD_REQUEST]: 400, [CA_ERRORS.CSR_INVALID]: 400, [CA_ERRORS.CSR_KEY]: 400,
  [CA_ERRORS.CSR_IDENTITY]: 403, [CA_ERRORS.FORBIDDEN]: 403, [CA_ERRORS.ROTATION_STATE]: 409,
  [CA_ERRORS.TOKEN_INVALID]: 401, [CA_ERRORS.TOKEN_EXPIRED]: 401, [CA_ERRORS.TOKEN_REPLAYED]: 401, [CA_ERRORS.TOKEN_EXHAUSTED]: 401, [CA_ERRORS.UNAUTHENTICATED]: 401,
};

/** True for a request from 127.0.0.0/8 or ::1. */
export function isLoopback(req: IncomingMessage): boolean {
  const a = req.socket.remoteAddress ?? '';
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

async function readJson(req: IncomingMessage, max: number): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new CaError(CA_ERRORS.BAD_REQUEST, `request body larger than ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new CaError(CA_ERRORS.BAD_REQUEST, `request body is not a JSON object (${(err as Error).message})`, { cause: err });
  }
}

function str(body: Record<string, unknown>, field: string, required = true): string | undefined {
  const v = body[field];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new CaError(CA_ERRORS.BAD_REQUEST, `field "${field}" must be a non-empty string`);
  return v;
}

/** Builds the CA's routes and a dispatcher that answers them (resolves false for any other path). */
export function caHttpHandlers(ca: CertificateAuthority, opts: CaHttpOptions = {}): { routes: CaRoute[]; handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> } {
  const isAdmin = opts.isAdmin ?? isLoopback;
  const max = opts.maxBodyBytes ?? 64 * 1024;
  const guard = (fn: (req: IncomingMessage, res: ServerResponse) => Promise<void>) => async (req: IncomingMessage, res: ServerResponse) => {
    try {
      await fn(req, res);
    } catch (err) {
      if (!(err instanceof CaError)) throw err;
      send(res, STATUS[err.code] ?? 500, { error: { code: err.code, message: err.message } });
    }
  };
  const routes: CaRoute[] = [
    {
      method: 'POST', path: '/v1/tokens',
      handle: guard(async (req, res) => {
        if (!isAdmin(req)) throw new CaError(CA_ERRORS.FORBIDDEN, 'creating bootstrap tokens is an admin operation (loopback or the admin token)');
        const body = await readJson(req, max);
        const ttl = typeof body.ttlMs === 'number' ? body.ttlMs : parseDuration(str(body, 'ttl', false) ?? '1h');
        if (ttl === undefined) throw new CaError(CA_ERRORS.BAD_REQUEST, `"ttl" must be a duration such as 1h or 30m (got ${JSON.stringify(body.ttl)})`);
        if (body.maxUses !== undefined && typeof body.maxUses !== 'number') throw new CaError(CA_ERRORS.BAD_REQUEST, `"maxUses" must be a number (got ${JSON.stringify(body.maxUses)})`);
        const req2 = { ns: str(body, 'namespace')!, sa: str(body, 'serviceAccount')!, ttlMs: ttl, ...(body.workload ? { workload: str(body, 'workload')! } : {}), ...(typeof body.maxUses === 'number' ? { maxUses: body.maxUses } : {}) };
        const { token, claims } = ca.createToken(req2);
        send(res, 201, { token, expiresAt: new Date(claims.exp * 1000).toISOString(), spiffeId: spiffeId(ca.trustDomain, { namespace: claims.ns, serviceAccount: claims.sa }), rootHash: claims.root, maxUses: claims.max ?? 1 });
      }),
    },
    {
      method: 'GET', path: '/v1/ca/trust-bundle',
      handle: guard(async (_req, res) => {
        send(res, 200, { trustDomain: ca.trustDomain, trustBundle: ca.trustBundlePem(), rootHash: rootCertificateHash(ca.signingRootPem()) });
      }),
    },
    {
      method: 'POST', path: '/v1/ca/certificates',
      handle: guard(async (req, res) => {
        const body = await readJson(req, max);
        const csr = str(body, 'csr')!;
        const chain = peerChainPem(req.socket);
        const fromCert = chain ? ca.identityFromCertificate(chain) : undefined;
        const life = typeof body.lifetimeMs === 'number' ? { lifetimeMs: body.lifetimeMs } : {};
        let out;
        if (fromCert) out = ca.signCsr(csr, fromCert, life);
        else if (typeof body.token === 'string') out = await ca.signWithToken(csr, body.token, life); // the token is spent only when the CSR is signed
        else throw new CaError(CA_ERRORS.UNAUTHENTICATED, 'a certificate request needs a bootstrap token (first contact) or a current workload certificate (renewal over TLS)');
        send(res, 200, { certificateChain: out.chainPem, trustBundle: out.trustBundlePem, spiffeId: out.spiffeId, notBefore: out.notBefore, notAfter: out.notAfter, serial: out.serial });
      }),
    },
    {
      method: 'GET', path: '/v1/ca/rotation',
      handle: guard(async (_req, res) => { send(res, 200, ca.rotationStatus()); }),
    },
    {
      method: 'POST', path: '/v1/ca/rotation',
      handle: guard(async (req, res) => {
        if (!isAdmin(req)) throw new CaError(CA_ERRORS.FORBIDDEN, 'a root rotation step is an admin operation (loopback or the admin token)');
        const body = await readJson(req, max);
        const step = str(body, 'step');
        if (step === 'start') await ca.startRootRotation({ issueFromNew: body.trustFirst !== true });
        else if (step === 'issue-from-new') await ca.issueFromNewRoot();
        else if (step === 'finish') await ca.finishRootRotation({ force: body.force === true });
        else throw new CaError(CA_ERRORS.BAD_REQUEST, `"step" must be start, issue-from-new or finish (got ${JSON.stringify(step)})`);
        send(res, 200, ca.rotationStatus());
      }),
    },
  ];
  return {
    routes,
    async handle(req, res) {
      const path = (req.url ?? '').split('?')[0];
      const route = routes.find((r) => r.path === path && r.method === req.method);
      if (!route) return false;
      await route.handle(req, res);
      return true;
    },
  };
}
