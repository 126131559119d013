// Scoped API tokens, admin token rotation and the audit log, through a real control plane on
// loopback with --require-token (issue 12 item 7). Expiry and grace use an injected clock.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from './audit.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { tempDir } from '../../test/support/temp.js';

const VS = '/apis/networking.istio.io/v1/namespaces/default/virtualservices';
const SE = '/apis/networking.istio.io/v1/namespaces/default/serviceentries';
const vs = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default' }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] } };
const se = { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'ext', namespace: 'default' }, spec: { hosts: ['ext.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS' } };
const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cred', namespace: 'default' }, type: 'Opaque', data: { k: Buffer.from('v').toString('base64') } };

let now = Date.parse('2026-12-02T00:00:00Z');
const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
let home: string;
let cp: ControlPlane;
let base: string;

async function call(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch {}
  return { status: res.status, body: parsed };
}

async function mint(scope: string, name: string, ttlMs?: number): Promise<string> {
  const r = await call('POST', '/v1/auth/tokens', cp.adminToken, { name, scope, ...(ttlMs ? { ttlMs } : {}) });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body.token).toMatch(/^bat_[0-9a-f]{16}_/);
  return r.body.token as string;
}

function audit(): AuditRecord[] {
  return readFileSync(join(home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
}

beforeAll(async () => {
  home = tempDir('bowline-apitok-');
  cp = await startControlPlane({ home, listenApi: '127.0.0.1:0', requireToken: true, clock, log: () => {} });
  base = cp.apiUrl;
  expect((await call('POST', VS, cp.adminToken, vs)).status).toBe(201);
  expect((await call('POST', SE, cp.adminToken, se)).status).toBe(201);
  expect((await call('POST', '/api/v1/namespaces/default/secrets', cp.adminToken, secret)).status).toBe(201);
});

afterAll(async () => {
  await cp.close();
  rmSync(home, { recursive: true, force: true });
});

describe('API tokens and scopes', () => {
  it('--require-token: no token is 401 also on loopback; a wrong token says so', async () => {
    const none = await call('GET', VS);
    expect(none.status).toBe(401);
    expect(none.body.message).toMatch(/^BOWLINE_E_API_UNAUTHENTICATED: /);
    const wrong = await call('GET', VS, 'bat_0123456789abcdef_' + 'x'.repeat(43));
    expect(wrong.status).toBe(401);
    expect(wrong.body.message).toMatch(/^BOWLINE_E_API_TOKEN_INVALID: /);
    expect((await call('GET', '/healthz')).status).toBe(200);
  });

  it('read-only reads config but cannot write, read Secret values, back up or mint tokens', async () => {
    const t = await mint('read-only', 'ci-reader');
    expect((await call('GET', VS, t)).status).toBe(200);
    expect((await call('GET', '/v1/auth/whoami', t)).body).toMatchObject({ kind: 'api-token', scope: 'read-only', name: 'ci-reader' });
    const write = await call('POST', VS, t, { ...vs, metadata: { ...vs.metadata, name: 'other' } });
    expect(write.status).toBe(403);
    expect(write.body.message).toMatch(/^BOWLINE_E_API_FORBIDDEN: API token "ci-reader" .* scope read-only, which does not allow POST .* \(needs admin\)/);
    expect((await call('GET', '/api/v1/namespaces/default/secrets/cred', t)).status).toBe(403);
    expect((await call('GET', '/v1/store/backup', t)).status).toBe(403);
    expect((await call('POST', '/v1/auth/tokens', t, { name: 'escalate', scope: 'admin' })).status).toBe(403);
    // The admin token still sees the Secret's values.
    expect((await call('GET', '/api/v1/namespaces/default/secrets/cred', cp.adminToken)).body.data).toEqual(secret.data);
  });

  it('registry-read reads ServiceEntries and discovery, nothing else', async () => {
    const t = await mint('registry-read', 'east-cluster');
    expect((await call('GET', SE, t)).status).toBe(200);
    expect((await call('GET', `${SE}/ext`, t)).body.spec.hosts).toEqual(['ext.example.com']);
    expect((await call('GET', '/apis', t)).status).toBe(200);
    const vsRead = await call('GET', VS, t);
    expect(vsRead.status).toBe(403);
    expect(vsRead.body.message).toContain('(needs read-only)');
    expect((await call('DELETE', `${SE}/ext`, t)).status).toBe(403);
  });

  it('viewer opens only the dashboard data', async () => {
    const t = await mint('viewer', 'dash');
    expect((await call('GET', VS, t)).status).toBe(403);
    expect((await call('GET', '/metrics', t)).status).toBe(403);
    expect((await call('GET', '/v1/auth/whoami', t)).body.scope).toBe('viewer');
  });

  it('a revoked token is refused at once; list never shows secrets', async () => {
    const t = await mint('read-only', 'short-lived-job');
    const list = await call('GET', '/v1/auth/tokens', cp.adminToken);
    const rec = list.body.items.find((i: { name: string }) => i.name === 'short-lived-job');
    expect(rec).toMatchObject({ scope: 'read-only', createdBy: 'admin-token' });
    // The secret is base64url (it may hold '_'): everything after `bat_ID_`.
    const secret = t.slice('bat_'.length + 16 + 1);
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(list.body)).not.toContain(secret);
    expect(rec.sha256).toBeUndefined();
    expect((await call('DELETE', '/v1/auth/tokens/short-lived-job', cp.adminToken)).status).toBe(200);
    expect((await call('GET', VS, t)).status).toBe(401);
    expect((await call('DELETE', '/v1/auth/tokens/short-lived-job', cp.adminToken)).status).toBe(404);
  });

  it('refuses to revoke a replica\'s peer token, which its replica would mint again at once', async () => {
    const peer = await cp.apiTokens.mintReplicaToken('replica-x', 60_000);
    const r = await call('DELETE', '/v1/auth/tokens/replica.replica-x', cp.adminToken);
    expect(r.status).toBe(409);
    expect(r.body.message).toMatch(/^BOWLINE_E_API_TOKEN_REPLICA: replica\.replica-x \([0-9a-f]{16}\) is the peer credential of a running control-plane replica \(replica replica-x\)/);
    // Still there: nothing was half-done.
    const list = await call('GET', '/v1/auth/tokens', cp.adminToken);
    expect(list.body.items.map((i: { name: string }) => i.name)).toContain('replica.replica-x');
    await cp.apiTokens.revokeReplicaToken(peer.id);
  });

  it('an expiring token stops working at its expiry (injected clock)', async () => {
    const t = await mint('read-only', 'expiring', 60_000);
    expect((await call('GET', VS, t)).status).toBe(200);
    now += 60_000;
    expect((await call('GET', VS, t)).status).toBe(401);
  });

  it('refuses bad token requests with 400 and a duplicate name with 409', async () => {
    expect((await call('POST', '/v1/auth/tokens', cp.adminToken, { name: 'x', scope: 'superuser' })).body.message).toMatch(/^BOWLINE_E_API_TOKEN_REQUEST: scope must be/);
    expect((await call('POST', '/v1/auth/tokens', cp.adminToken, { name: 'Bad Name', scope: 'viewer' })).status).toBe(400);
    expect((await call('POST', '/v1/auth/tokens', cp.adminToken, { name: 'y', scope: 'viewer', ttlMs: -1 })).status).toBe(400);
    expect((await call('POST', '/v1/auth/tokens', cp.adminToken, '[1]')).status).toBe(400);
    expect((await call('POST', '/v1/auth/tokens', cp.adminToken, { name: 'dash', scope: 'viewer' })).status).toBe(409);
  });

  it('rotates the admin token: the file holds the new one, the old one works only during the grace', async () => {
    const old = cp.adminToken;
    const r = await call('POST', '/v1/auth/admin-token/rotate', old, { graceMs: 30_000 });
    expect(r.status).toBe(200);
    expect(r.body.token).not.toBe(old);
    expect(readFileSync(join(home, 'admin-token'), 'utf8').trim()).toBe(r.body.token);
    expect(cp.adminToken).toBe(r.body.token);
    expect((await call('GET', VS, old)).status).toBe(200);
    now += 30_000;
    expect((await call('GET', VS, old)).status).toBe(401);
    expect((await call('GET', VS, r.body.token)).status).toBe(200);
    expect((await call('POST', '/v1/auth/admin-token/rotate', r.body.token, { graceMs: 7_200_000 })).status).toBe(400);
    const again = await call('POST', '/v1/auth/admin-token/rotate', r.body.token, {});
    expect((await call('GET', VS, r.body.token)).status).toBe(401); // no grace: the old one stops at once
    expect((await call('GET', VS, again.body.token)).status).toBe(200);
  });

  it('the audit log has every mutating call (who, what, when, result), refused ones too, and no secrets', async () => {
    const log = audit();
    const raw = readFileSync(join(home, 'audit.log'), 'utf8');
    expect(log.every((r) => r.what.method !== 'GET')).toBe(true);
    const created = log.find((r) => r.what.kind === 'VirtualService' && r.what.method === 'POST' && r.status === 201)!;
    expect(created).toMatchObject({ who: { kind: 'admin-token', scope: 'admin', remote: '127.0.0.1' }, what: { path: VS, namespace: 'default' }, result: 'allowed' });
    expect(Date.parse(created.time)).toBeGreaterThan(0);
    const refused = log.find((r) => r.who.name === 'ci-reader' && r.what.method === 'POST')!;
    expect(refused).toMatchObject({ who: { kind: 'api-token', scope: 'read-only' }, status: 403, result: 'refused' });
    expect(refused.who.tokenId).toMatch(/^[0-9a-f]{16}$/);
    expect(log.filter((r) => r.what.path === '/v1/auth/admin-token/rotate').map((r) => r.status)).toEqual([200, 400, 200]);
    expect(log.some((r) => r.what.method === 'DELETE' && r.what.path === '/v1/auth/tokens/short-lived-job' && r.result === 'allowed')).toBe(true);
    expect(log.find((r) => r.what.path === `${SE}/ext` && r.what.method === 'DELETE')).toMatchObject({ what: { kind: 'ServiceEntry', name: 'ext' }, result: 'refused' });
    for (const l of raw.split('\n')) expect(l).not.toMatch(/bat_[0-9a-f]{16}_/);
  });
});

describe('API on loopback without --require-token', () => {
  it('a local caller without a token may write (audited as local); a scoped token is held to its scope', async () => {
    const h = tempDir('bowline-apitok-');
    const lines: string[] = [];
    const open = await startControlPlane({ home: h, listenApi: '127.0.0.1:0', auditLog: (l) => lines.push(l), log: () => {} });
    try {
      const r = await fetch(`${open.apiUrl}${VS}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(vs) });
      expect(r.status).toBe(201);
      const { token } = await (await fetch(`${open.apiUrl}/v1/auth/tokens`, { method: 'POST', body: JSON.stringify({ name: 'v', scope: 'viewer' }) })).json() as { token: string };
      expect((await fetch(`${open.apiUrl}${VS}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
      const recs = lines.map((l) => JSON.parse(l) as AuditRecord);
      expect(recs[0]).toMatchObject({ who: { kind: 'local', scope: 'admin' }, what: { method: 'POST', kind: 'VirtualService', name: 'reviews' }, status: 201 });
      expect(recs).toHaveLength(2);
    } finally {
      await open.close();
      rmSync(h, { recursive: true, force: true });
    }
  });

  it('refuses to start when the audit log cannot be written', async () => {
    const h = tempDir('bowline-apitok-');
    await expect(startControlPlane({ home: h, listenApi: '127.0.0.1:0', auditLog: join(h, 'no-such-dir', 'audit.log'), log: () => {} })).rejects.toThrow(/cannot open the audit log/);
    rmSync(h, { recursive: true, force: true });
  });
});
