// `bowline api-token` against a real control plane that requires a token on loopback.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../control/control-plane.js';
import type { CliIO } from '../client.js';
import { runApiToken } from './api-token.js';
import { tempDir } from '../../../test/support/temp.js';

let cp: ControlPlane;
let home: string;
let env: NodeJS.ProcessEnv;

function io(): CliIO & { out: string; err: string } {
  const o = { out: '', err: '', stdout: (s: string) => { o.out += s; }, stderr: (s: string) => { o.err += s; }, readStdin: async () => '' };
  return o;
}

beforeAll(async () => {
  home = tempDir('bowline-apitok-cli-');
  cp = await startControlPlane({ home, listenApi: '127.0.0.1:0', requireToken: true, log: () => {} });
  env = { BOWLINE_HOME: home, BOWLINE_SERVER: cp.apiUrl };
});
afterAll(async () => {
  await cp.close();
  rmSync(home, { recursive: true, force: true });
});

describe('bowline api-token', () => {
  it('creates a viewer token (token alone on stdout), lists it, revokes it', async () => {
    const c = io();
    expect(await runApiToken(['create', '--scope', 'viewer', 'wallboard', '--ttl', '720h'], c, env)).toBe(0);
    const token = c.out.trim();
    expect(token).toMatch(/^bat_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(c.err).toMatch(/scope viewer, expires 20/);
    expect((await (await fetch(`${cp.apiUrl}/v1/auth/whoami`, { headers: { authorization: `Bearer ${token}` } })).json())).toMatchObject({ scope: 'viewer', name: 'wallboard' });
    const l = io();
    expect(await runApiToken(['list'], l, env)).toBe(0);
    expect(l.out).toMatch(/^NAME\s+ID\s+SCOPE/);
    expect(l.out).toMatch(/wallboard\s+[0-9a-f]{16}\s+viewer/);
    // The secret is everything after `bat_<16 hex id>_`; base64url may itself contain '_', so no split('_').
    expect(l.out).not.toContain(token.slice('bat_'.length + 16 + 1));
    const r = io();
    expect(await runApiToken(['revoke', 'wallboard'], r, env)).toBe(0);
    expect(r.err).toContain('revoked API token wallboard');
    expect((await fetch(`${cp.apiUrl}/v1/auth/whoami`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it('fails as `CODE: message` with the server\'s code: a bad scope, a scoped caller, an unknown token', async () => {
    await expect(runApiToken(['create', '--scope', 'root', 'x'], io(), env)).rejects.toMatchObject({ code: 'BOWLINE_E_API_TOKEN_REQUEST', message: expect.stringMatching(/^Error from server \(BadRequest\): scope must be/) });
    const c = io();
    await runApiToken(['create', '--scope', 'read-only', 'reader'], c, env);
    await expect(runApiToken(['create', '--scope', 'admin', 'escalate'], io(), { ...env, BOWLINE_TOKEN: c.out.trim() })).rejects.toMatchObject({ code: 'BOWLINE_E_API_FORBIDDEN' });
    await expect(runApiToken(['revoke', 'nobody'], io(), env)).rejects.toMatchObject({ code: 'BOWLINE_E_API_TOKEN_UNKNOWN' });
    await expect(runApiToken(['list'], io(), { BOWLINE_SERVER: 'http://127.0.0.1:1', BOWLINE_HOME: home })).rejects.toMatchObject({ code: 'BOWLINE_E_CLI_UNREACHABLE' });
    await expect(runApiToken(['create', 'x'], io(), env)).rejects.toThrow(/--scope is required/);
  });

  it('rotate-admin writes the new admin token to the home the CLI reads next', async () => {
    const before = readFileSync(join(home, 'admin-token'), 'utf8').trim();
    const c = io();
    expect(await runApiToken(['rotate-admin'], c, env)).toBe(0);
    expect(c.err).toContain('the old one no longer works');
    const after = readFileSync(join(home, 'admin-token'), 'utf8').trim();
    expect(after).not.toBe(before);
    expect(cp.adminToken).toBe(after);
    expect(await runApiToken(['list', '-o', 'json'], io(), env)).toBe(0);
  });
});
