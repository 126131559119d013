// The sample apps as processes: flags, one log line per request, 400 on malformed HTTP, clean SIGTERM.
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { start, repoRoot, type Child } from '../../test/support/process.js';
import { waitFor } from '../../test/support/wait.js';
import { get } from './testing.js';

const children: Child[] = [];
afterEach(async () => { await Promise.all(children.splice(0).map((c) => c.stop())); });

async function run(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const child = start(process.execPath, ['--import', 'tsx', `${repoRoot}samples/${script}`, '--port', '0', ...args], { env });
  children.push(child);
  const m = (await waitFor(() => /listening on (http:\/\/\S+)/.exec(child.output()), { what: `${script} to listen`, timeoutMs: 15_000 }))!;
  return { child, url: m[1]! };
}

function rawRequest(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname, () => s.write(text));
    let out = '';
    s.on('data', (d) => { out += d; });
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

describe('sample app processes', () => {
  it('details: --port 0, one log line per request, 400 on malformed HTTP, exit 0 on SIGTERM', async () => {
    const { child, url } = await run('bookinfo/details.ts');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await get(`${url}/details/0`)).status).toBe(200);
    expect(await rawRequest(url, 'NONSENSE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    await waitFor(() => child.output().includes('GET /details/0 200'), { what: 'a log line' });
    const exited = new Promise<number | null>((r) => child.proc.once('exit', (code) => r(code)));
    child.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(child.output()).toContain('details stopping (SIGTERM)');
  });

  it('reviews: refuses an unknown version with exit 2; --service-version v3 serves red stars', async () => {
    const bad = start(process.execPath, ['--import', 'tsx', `${repoRoot}samples/bookinfo/reviews.ts`, '--service-version', 'v9']);
    children.push(bad);
    const code = await new Promise<number | null>((r) => bad.proc.once('exit', (c) => r(c)));
    expect(code).toBe(2);
    expect(bad.output()).toContain('v1, v2 or v3');
    const ratings = await run('bookinfo/ratings.ts');
    const { url } = await run('bookinfo/reviews.ts', ['--service-version', 'v3', '--ratings-url', ratings.url], { HTTP_PROXY: '', POD_NAME: 'reviews-v3-test' });
    const body = JSON.parse((await get(`${url}/reviews/0`)).text);
    expect(body.podname).toBe('reviews-v3-test');
    expect(body.reviews[0].rating).toEqual({ stars: 5, color: 'red' });
  });

  it('--socket-from-parent: listens on the socket its parent bound and sent over IPC (the port is never free in between)', async () => {
    const held = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', () => r()));
    const port = (held.address() as net.AddressInfo).port;
    const child = spawn(process.execPath, ['--import', 'tsx', `${repoRoot}samples/bookinfo/details.ts`, '--socket-from-parent'], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    children.push({ proc: child, output: () => out, stop: async () => { if (child.exitCode === null) { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); } },
      exited: async () => { if (child.exitCode === null) await new Promise((r) => child.once('exit', r)); return child.exitCode; } });
    await new Promise<void>((resolve) => child.once('message', () => resolve())); // {type: 'send-sockets'}
    await new Promise<void>((resolve, reject) => child.send({ type: 'listen' }, held, (err) => (err ? reject(err) : resolve())));
    child.send({ type: 'listen-end' });
    held.close();
    await waitFor(() => out.includes(`details listening on http://127.0.0.1:${port}`), { what: 'the listening line', timeoutMs: 15_000 });
    expect((await get(`http://127.0.0.1:${port}/details/0`)).status).toBe(200);
  });
});
