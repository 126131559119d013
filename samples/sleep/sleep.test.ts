import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { fetchCommand, FETCH_EXIT } from './sleep.js';
import { freePort } from '../../test/support/ports.js';

const servers: http.Server[] = [];
afterEach(() => { for (const s of servers.splice(0)) { s.closeAllConnections(); s.close(); } });
async function server(handler: http.RequestListener) {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
}

describe('sleep fetch', () => {
  it('sends the request through HTTP_PROXY in absolute form and prints the body', async () => {
    let line = '';
    const proxy = await server((req, res) => { line = `${req.method} ${req.url} ${req.headers.host} ${req.headers['x-demo']}`; res.end('{"ok":true}'); });
    let out = '';
    const code = await fetchCommand(['-H', 'X-Demo: 1', 'http://httpbin:8000/headers'], (s) => { out += s; }, { HTTP_PROXY: proxy });
    expect(code).toBe(FETCH_EXIT.ok);
    expect(out).toBe('{"ok":true}');
    expect(line).toBe('GET http://httpbin:8000/headers httpbin:8000 1');
  });

  it('goes direct without HTTP_PROXY, prints the status with -i, and sends -d as a POST', async () => {
    const direct = await server((req, res) => { res.writeHead(201, { 'x-m': req.method! }); req.pipe(res); });
    let out = '';
    const code = await fetchCommand(['-i', '-d', 'a=1', `${direct}/x`], (s) => { out += s; }, {});
    expect(code).toBe(0);
    expect(out).toMatch(/^HTTP\/1\.1 201\r\n/);
    expect(out).toContain('x-m: POST');
    expect(out.endsWith('\r\n\r\na=1')).toBe(true);
  });

  it('exits 7 when nothing listens, 28 on timeout and 2 on a bad URL', async () => {
    const port = await freePort();
    expect(await fetchCommand([`http://127.0.0.1:${port}/`], () => {}, {})).toBe(FETCH_EXIT.connect);
    const hang = await server(() => {});
    expect(await fetchCommand(['--max-time', '0.2', hang], () => {}, {})).toBe(FETCH_EXIT.timeout);
    expect(await fetchCommand(['not a url'], () => {}, {})).toBe(FETCH_EXIT.usage);
  });
});
