import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { caHttpHandlers, CertificateAuthority, MemoryCaStorage, parseKek } from '../../ca/index.js';
import { readBootstrapToken } from '../../proxy/identity/token.js';
import { UsageError } from '../command.js';
import { runToken } from './token.js';

const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

async function controlPlane() {
  const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek: parseKek(Buffer.alloc(32, 1), 't') });
  const api = caHttpHandlers(ca);
  const server = createServer((req, res) => void api.handle(req, res).then((ok) => { if (!ok) res.writeHead(404).end('{}'); })).listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return { ca, server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function io() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (s: string) => void (out.stdout += s), stderr: (s: string) => void (out.stderr += s), readStdin: async () => '' } };
}

describe('bowline token create', () => {
  it('prints a token for the identity that pins the control plane root', async () => {
    const cp = await controlPlane();
    const { out, io: cli } = io();
    const code = await runToken(['create', '--namespace', 'shop', '--service-account', 'cart', '--workload', 'vm-1', '--ttl', '2h', '--server', cp.server], cli, {});
    expect(code).toBe(0);
    const info = readBootstrapToken(out.stdout);
    expect(info).toMatchObject({ namespace: 'shop', serviceAccount: 'cart', workload: 'vm-1' });
    expect(info.expiresAt - Date.now()).toBeGreaterThan(7100_000);
    expect(out.stderr).toContain('spiffe://cluster.local/ns/shop/sa/cart');
    await expect(cp.ca.redeemToken(out.stdout.trim())).resolves.toMatchObject({ namespace: 'shop' });
  });

  it('reports usage errors and an unreachable control plane', async () => {
    const { io: cli, out } = io();
    await expect(runToken(['create', '--namespace', 'shop'], cli, {})).rejects.toBeInstanceOf(UsageError);
    await expect(runToken(['create', '-n', 'a', '--service-account', 'b', '--ttl', 'soon'], cli, {})).rejects.toThrow(/--ttl/);
    await expect(runToken([], cli, {})).rejects.toThrow(/missing subcommand/);
    expect(await runToken(['create', '-n', 'a', '--service-account', 'b', '--server', 'http://127.0.0.1:1'], cli, {})).toBe(1);
    expect(out.stderr).toMatch(/^bowline token: BOWLINE_E_CLI_UNREACHABLE: cannot reach the control plane/);
  });
});
