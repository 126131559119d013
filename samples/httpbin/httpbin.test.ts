import { afterEach, describe, expect, it } from 'vitest';
import { startApp, get, HandTimers, type Running } from '../app/testing.js';
import { waitFor } from '../../test/support/wait.js';
import { httpbinHandler, titleCase } from './httpbin.js';

let bin: Running | undefined;
afterEach(async () => { await bin?.close(); bin = undefined; });
const start = async (timers?: HandTimers) => (bin = await startApp('httpbin', httpbinHandler(timers ? { timers } : {})));

describe('httpbin', () => {
  it('/headers echoes the request headers title-cased, as httpbin does', async () => {
    const b = await start();
    const body = JSON.parse((await get(`${b.url}/headers`, { headers: { 'x-b3-traceid': 'abc', 'x-request-id': 'r1' } })).text);
    expect(body.headers).toMatchObject({ 'X-B3-Traceid': 'abc', 'X-Request-Id': 'r1', Host: `127.0.0.1:${b.port}` });
    expect(titleCase('user-agent')).toBe('User-Agent');
  });

  it('/ip, /get and /anything describe the request', async () => {
    const b = await start();
    expect(JSON.parse((await get(`${b.url}/ip`)).text)).toEqual({ origin: '127.0.0.1' });
    const g = JSON.parse((await get(`${b.url}/get?a=1&a=2&b=x`)).text);
    expect(g).toMatchObject({ args: { a: ['1', '2'], b: 'x' }, origin: '127.0.0.1', url: `http://127.0.0.1:${b.port}/get?a=1&a=2&b=x` });
    const a = JSON.parse((await get(`${b.url}/anything/x?q=1`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"k":1}' })).text);
    expect(a).toMatchObject({ method: 'PUT', args: { q: '1' }, json: { k: 1 }, data: '{"k":1}' });
    expect((await get(`${b.url}/anything`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{bad' })).status).toBe(400);
  });

  it('/status/:code answers that code and refuses nonsense with 400', async () => {
    const b = await start();
    expect((await get(`${b.url}/status/418`)).status).toBe(418);
    expect((await get(`${b.url}/status/503`)).status).toBe(503);
    expect((await get(`${b.url}/status/abc`)).status).toBe(400);
    expect((await get(`${b.url}/status/99`)).status).toBe(400);
  });

  it('/delay/:s waits that long (fractions allowed) and refuses nonsense with 400', async () => {
    const timers = new HandTimers();
    const b = await start(timers);
    let answered = false;
    const r = get(`${b.url}/delay/0.3`).then((x) => { answered = true; return x; });
    await waitFor(() => timers.pending.size === 1, { what: 'the 0.3 s delay pending' });
    expect(answered).toBe(false);
    timers.fire();
    expect((await r).status).toBe(200);
    const capped = get(`${b.url}/delay/60`);
    await waitFor(() => timers.pending.size === 1, { what: 'the 60 s delay pending' });
    timers.fire();
    expect((await capped).status).toBe(200);
    expect(timers.fired).toEqual([300, 10_000]); // 60 s is capped at 10 s
    expect((await get(`${b.url}/delay/-1`)).status).toBe(400);
    expect((await get(`${b.url}/delay/soon`)).status).toBe(400);
  });
});
