// `bowline ca rotation` against a real control plane with its CA (requireToken: the steps need the admin token).
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../control/control-plane.js';
import { ApiFailure } from '../client.js';
import { runCa } from './ca.js';
import { tempDir } from '../../../test/support/temp.js';

let cp: ControlPlane;
let home: string;
let env: NodeJS.ProcessEnv;

function io() {
  const o = { out: '', err: '', stdout: (s: string) => { o.out += s; }, stderr: (s: string) => { o.err += s; } };
  return o;
}
const bundleCount = () => cp.ca!.trustBundlePem().split('BEGIN CERTIFICATE').length - 1;

beforeAll(async () => {
  home = tempDir('bowline-ca-rot-cli-');
  cp = await startControlPlane({ home, listenApi: '127.0.0.1:0', requireToken: true, ca: true, log: () => {} });
  env = { BOWLINE_HOME: home, BOWLINE_SERVER: cp.apiUrl };
});
afterAll(async () => {
  await cp.close();
  rmSync(home, { recursive: true, force: true });
});

describe('bowline ca rotation', () => {
  it('walks a rotation with --trust-first: both roots trusted, then the new one signs; finish is refused while old-root certificates may live', async () => {
    const s = io();
    expect(await runCa(['rotation', 'status'], s, env)).toBe(0);
    expect(s.out).toMatch(/^phase: steady \(CA from generated\)/);
    expect(s.out.match(/\byes\b/g)).toHaveLength(1);
    const oldSigning = cp.ca!.signingRootPem();

    const start = io();
    expect(await runCa(['rotation', 'start', '--trust-first'], start, env)).toBe(0);
    expect(start.err).toMatch(/the old one still signs \(next: bowline ca rotation issue-from-new\)/);
    expect(bundleCount()).toBe(2);
    expect(cp.ca!.signingRootPem()).toBe(oldSigning);

    const next = io();
    expect(await runCa(['rotation', 'issue-from-new', '-o', 'json'], next, env)).toBe(0);
    const status = JSON.parse(next.out);
    expect(status.phase).toBe('issuing-from-new');
    expect(status.roots.filter((r: { signing: boolean }) => r.signing)).toHaveLength(1);
    expect(cp.ca!.signingRootPem()).not.toBe(oldSigning);
    // Certificates from the old root may be valid for the longest workload lifetime (7 days by default).
    expect(Date.parse(status.finishAfter) - Date.now()).toBeGreaterThan(6 * 24 * 3600_000);

    await expect(runCa(['rotation', 'finish'], io(), env)).rejects.toMatchObject({ code: 'BOWLINE_E_CA_ROTATION_STATE', status: 409, message: expect.stringMatching(/may be valid until .*force/) });
    expect(bundleCount()).toBe(2);
    const done = io();
    expect(await runCa(['rotation', 'finish', '--force'], done, env)).toBe(0);
    expect(done.err).toMatch(/the old root left the trust bundle/);
    expect(done.out).toMatch(/^phase: steady/);
    expect(bundleCount()).toBe(1);
    expect(cp.ca!.trustBundlePem()).not.toContain(oldSigning.trim());
  });

  it('refuses a step out of order, and any step without the admin token', async () => {
    await expect(runCa(['rotation', 'issue-from-new'], io(), env)).rejects.toMatchObject({ code: 'BOWLINE_E_CA_ROTATION_STATE', status: 409 });
    const noToken = { BOWLINE_HOME: tempDir('bowline-ca-rot-none-'), BOWLINE_SERVER: cp.apiUrl };
    try {
      const err = await runCa(['rotation', 'start'], io(), noToken).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiFailure);
      expect((err as ApiFailure).status).toBe(401);
      expect(cp.ca!.rotationPhase()).toBe('steady');
    } finally {
      rmSync(noToken.BOWLINE_HOME, { recursive: true, force: true });
    }
  });

  it('says what is wrong with the command line', async () => {
    await expect(runCa(['rotation', 'finish', '--trust-first'], io(), env)).rejects.toThrow(/--trust-first goes with start/);
    await expect(runCa(['rotation', 'rotate'], io(), env)).rejects.toThrow(/unknown rotation step "rotate"/);
  });
});
