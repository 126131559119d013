/**
 * Scoped API tokens: bearer tokens for everything but operators (a dashboard viewer, a remote
 * cluster reading the registry, a read-only script). A token is `bat_ID_SECRET`; the store keeps
 * only its id, name, scope, expiry and the SHA-256 of the secret, under the raw key
 * `auth/api-tokens/ID` (shared by every control-plane replica on etcd). Revoking deletes the key;
 * the next request with the token is refused. Tokens are checked against the store on each use.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/index.js';
import { isApiScope, USER_SCOPES, type ApiScope } from './access.js';
import { ApiError } from './status.js';

/** The raw-key prefix of API token records. */
export const API_TOKEN_PREFIX = 'auth/api-tokens/';

/** The longest lifetime an API token may have (one year); without a TTL a token lasts until revoked. */
export const MAX_API_TOKEN_TTL_MS = 366 * 24 * 3600_000;

/** What the store keeps of one API token (never the secret). */
export interface ApiTokenRecord {
  id: string;
  name: string;
  scope: ApiScope;
  /** ISO time of creation and, for expiring tokens, of expiry. */
  createdAt: string;
  expiresAt?: string;
  /** Who created it (the audit log's caller name). */
  createdBy: string;
  /** Hex SHA-256 of the secret part. */
  sha256: string;
}

const TOKEN_RE = /^bat_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/;

/** True when `token` has the shape of an API token (so it is not compared with the admin token). */
export function looksLikeApiToken(token: string): boolean {
  return TOKEN_RE.test(token);
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** Creates, lists, revokes and verifies API tokens kept in the store. */
export class ApiTokens {
  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  /** Mints a token; the secret is returned once and never stored. Throws ApiError 400 for a bad name, scope or TTL. */
  async create(req: { name: string; scope: unknown; ttlMs?: number; createdBy: string }): Promise<{ token: string; record: ApiTokenRecord }> {
    if (typeof req.name !== 'string' || !NAME_RE.test(req.name)) throw new ApiError(400, 'BadRequest', `BOWLINE_E_API_TOKEN_REQUEST: name must be a DNS label of lowercase letters, digits, "-" or "." (got ${JSON.stringify(req.name)})`);
    if (!isApiScope(req.scope) || !USER_SCOPES.includes(req.scope)) throw new ApiError(400, 'BadRequest', `BOWLINE_E_API_TOKEN_REQUEST: scope must be admin, read-only, registry-read or viewer (got ${JSON.stringify(req.scope)})`);
    if (req.ttlMs !== undefined && (!Number.isInteger(req.ttlMs) || req.ttlMs < 1000 || req.ttlMs > MAX_API_TOKEN_TTL_MS)) throw new ApiError(400, 'BadRequest', `BOWLINE_E_API_TOKEN_REQUEST: ttlMs must be an integer from 1000 (1 s) to ${MAX_API_TOKEN_TTL_MS} (one year), or absent for a token that lasts until revoked (got ${JSON.stringify(req.ttlMs)})`);
    const existing = await this.list();
    if (existing.some((r) => r.name === req.name)) throw new ApiError(409, 'AlreadyExists', `BOWLINE_E_API_TOKEN_REQUEST: an API token named "${req.name}" exists (${existing.find((r) => r.name === req.name)!.id}); revoke it first or pick another name`);
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const now = this.now();
    const record: ApiTokenRecord = {
      id, name: req.name, scope: req.scope, createdAt: new Date(now).toISOString(),
      ...(req.ttlMs !== undefined ? { expiresAt: new Date(now + req.ttlMs).toISOString() } : {}),
      createdBy: req.createdBy, sha256: digest(secret).toString('hex'),
    };
    await this.store.putRaw(API_TOKEN_PREFIX + id, JSON.stringify(record), req.ttlMs !== undefined ? { ttlMs: req.ttlMs } : {});
    return { token: `bat_${id}_${secret}`, record };
  }

  /**
   * Mints the peer credential of control-plane replica `replicaId` (scope `replica`, named
   * `replica.ID`): a store key with a TTL that the replica renews (`renewReplicaToken`) while it
   * runs, so it ends with the replica. Not through `create`: users cannot mint this scope.
   */
  async mintReplicaToken(replicaId: string, ttlMs: number): Promise<{ token: string; id: string }> {
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const record: ApiTokenRecord = { id, name: `replica.${replicaId}`, scope: 'replica', createdAt: new Date(this.now()).toISOString(), createdBy: `replica ${replicaId}`, sha256: digest(secret).toString('hex') };
    await this.store.putRaw(API_TOKEN_PREFIX + id, JSON.stringify(record), { ttlMs });
    return { token: `bat_${id}_${secret}`, id };
  }

  /** Renews a replica token's lease for its TTL; throws the store's NotFound once it expired or was revoked. */
  async renewReplicaToken(id: string): Promise<void> {
    await this.store.keepAlive(API_TOKEN_PREFIX + id);
  }

  /** Deletes a replica token (its replica closes). */
  async revokeReplicaToken(id: string): Promise<void> {
    await this.store.deleteRaw(API_TOKEN_PREFIX + id);
  }

  /** Every live token's record (expired ones left out), oldest first. */
  async list(): Promise<ApiTokenRecord[]> {
    const { entries } = await this.store.listRaw(API_TOKEN_PREFIX);
    const out: ApiTokenRecord[] = [];
    for (const e of entries) {
      const r = parseRecord(e.value);
      if (r && !this.expired(r)) out.push(r);
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /**
   * Revokes a token by id or name; resolves to its record, or undefined when none matched. A `replica`
   * token is refused (409): its replica would mint another at its next renewal (every few seconds), so
   * the revocation would be undone without a word; it ends when its replica stops.
   */
  async revoke(idOrName: string): Promise<ApiTokenRecord | undefined> {
    const r = (await this.list()).find((t) => t.id === idOrName || t.name === idOrName);
    if (!r) return undefined;
    if (r.scope === 'replica') {
      throw new ApiError(409, 'Conflict', `BOWLINE_E_API_TOKEN_REPLICA: ${r.name} (${r.id}) is the peer credential of a running control-plane replica (${r.createdBy}), which mints a new one whenever it is gone; it ends with its presence record when that replica stops (docs/debugging.md, "Several control-plane replicas"). Stop the replica to cut it off`);
    }
    await this.store.deleteRaw(API_TOKEN_PREFIX + r.id);
    return r;
  }

  /** The record of a presented token when it is live and its secret matches; undefined otherwise (unknown, revoked, expired, altered). */
  async verify(token: string): Promise<ApiTokenRecord | undefined> {
    const m = TOKEN_RE.exec(token);
    if (!m) return undefined;
    const entry = await this.store.getRaw(API_TOKEN_PREFIX + m[1]!);
    const r = entry ? parseRecord(entry.value) : undefined;
    if (!r || r.id !== m[1] || this.expired(r)) return undefined;
    const want = Buffer.from(r.sha256, 'hex');
    const got = digest(m[2]!);
    return want.length === got.length && timingSafeEqual(want, got) ? r : undefined;
  }

  private expired(r: ApiTokenRecord): boolean {
    return r.expiresAt !== undefined && Date.parse(r.expiresAt) <= this.now();
  }
}

function parseRecord(value: string): ApiTokenRecord | undefined {
  try {
    const r = JSON.parse(value) as ApiTokenRecord;
    return typeof r.id === 'string' && typeof r.sha256 === 'string' && isApiScope(r.scope) ? r : undefined;
  } catch {
    return undefined;
  }
}
