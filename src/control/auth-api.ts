/**
 * The API credentials' own endpoints (admin only, except whoami):
 * - `GET /v1/auth/tokens`: the live API tokens (id, name, scope, expiry; never a secret);
 * - `POST /v1/auth/tokens` `{name, scope, ttlMs?}`: mints one (201; the token is in this answer only);
 * - `DELETE /v1/auth/tokens/ID_OR_NAME`: revokes one;
 * - `POST /v1/auth/admin-token/rotate` `{graceMs?}`: replaces the admin token (the old one keeps
 *   working for graceMs, default 0, at most one hour);
 * - `GET /v1/auth/whoami`: the caller and its scope (any credential).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { callerName, type Caller } from './access.js';
import { readBody } from './admission.js';
import type { ApiTokenRecord, ApiTokens } from './api-tokens.js';
import { ApiError, noSuchPath, sendJson } from './status.js';

/** The longest grace the old admin token may keep after a rotation. */
export const MAX_ADMIN_GRACE_MS = 3600_000;

/** What the handlers need from the control plane. */
export interface AuthApiDeps {
  tokens: ApiTokens;
  /** Rotates the admin token; returns the new one and the file it was written to. */
  rotateAdmin(graceMs: number): { token: string; file: string };
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req);
  if (!text.trim()) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {}
  throw new ApiError(400, 'BadRequest', 'BOWLINE_E_API_TOKEN_REQUEST: the body must be a JSON object');
}

function shown(r: ApiTokenRecord): Omit<ApiTokenRecord, 'sha256'> {
  const { sha256: _secretHash, ...rest } = r;
  return rest;
}

/** Serves /v1/auth/*; resolves to false for a path it does not know. Auth (admin scope) is checked by the listener. */
export async function handleAuthApi(deps: AuthApiDeps, req: IncomingMessage, res: ServerResponse, path: string, caller: Caller): Promise<boolean> {
  const method = req.method ?? 'GET';
  if (path === '/v1/auth/whoami') {
    if (method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', 'GET /v1/auth/whoami');
    sendJson(res, 200, { kind: caller.kind, scope: caller.scope, ...(caller.tokenId ? { tokenId: caller.tokenId, name: caller.name } : {}) });
    return true;
  }
  if (path === '/v1/auth/tokens') {
    if (method === 'GET') return void sendJson(res, 200, { items: (await deps.tokens.list()).map(shown) }), true;
    if (method !== 'POST') throw new ApiError(405, 'MethodNotAllowed', 'GET or POST /v1/auth/tokens');
    const b = await jsonBody(req);
    const { token, record } = await deps.tokens.create({ name: b.name as string, scope: b.scope, ...(b.ttlMs !== undefined ? { ttlMs: b.ttlMs as number } : {}), createdBy: callerName(caller) });
    sendJson(res, 201, { token, ...shown(record) });
    return true;
  }
  if (path.startsWith('/v1/auth/tokens/')) {
    if (method !== 'DELETE') throw new ApiError(405, 'MethodNotAllowed', 'DELETE /v1/auth/tokens/ID_OR_NAME');
    const key = decodeURIComponent(path.slice('/v1/auth/tokens/'.length));
    const r = await deps.tokens.revoke(key);
    if (!r) throw new ApiError(404, 'NotFound', `BOWLINE_E_API_TOKEN_UNKNOWN: no live API token with id or name "${key}" (bowline api-token list)`);
    sendJson(res, 200, { revoked: shown(r) });
    return true;
  }
  if (path === '/v1/auth/admin-token/rotate') {
    if (method !== 'POST') throw new ApiError(405, 'MethodNotAllowed', 'POST /v1/auth/admin-token/rotate');
    const b = await jsonBody(req);
    const grace = b.graceMs ?? 0;
    if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0 || grace > MAX_ADMIN_GRACE_MS) throw new ApiError(400, 'BadRequest', `BOWLINE_E_API_TOKEN_REQUEST: graceMs must be an integer from 0 to ${MAX_ADMIN_GRACE_MS} (got ${JSON.stringify(grace)})`);
    const { token, file } = deps.rotateAdmin(grace);
    sendJson(res, 200, { token, file, oldTokenValidMs: grace });
    return true;
  }
  if (path.startsWith('/v1/auth/')) throw noSuchPath();
  return false;
}
