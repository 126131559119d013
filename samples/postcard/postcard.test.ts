import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createAppServer, listen } from '../app/serve.js';
import { greeterHandler, UNAVAILABLE } from './greeter.js';
import { messengerHandler } from './messenger.js';

const servers: http.Server[] = [];
async function serve(name: string, handler: Parameters<typeof createAppServer>[1]): Promise<string> {
  const s = createAppServer(name, handler, () => {});
  servers.push(s);
  return `http://127.0.0.1:${await listen(s, 0, '127.0.0.1')}`;
}
afterEach(() => { for (const s of servers.splice(0)) s.close(); });

describe('postcard sample', () => {
  it('messenger answers a message naming its cluster, and the caller its sidecar saw', async () => {
    const m = await serve('messenger', messengerHandler('cluster-2'));
    const r = await fetch(`${m}/message`, { headers: { 'x-forwarded-client-cert': 'By=spiffe://cluster.local/ns/default/sa/messenger;URI=spiffe://cluster.local/ns/default/sa/greeter' } });
    expect(await r.json()).toEqual({ message: 'Greetings from cluster-2!', cluster: 'cluster-2', caller: 'spiffe://cluster.local/ns/default/sa/greeter' });
    expect((await fetch(`${m}/nope`)).status).toBe(404);
  });

  it("greeter renders a postcard with messenger's message, or the unavailable text when messenger does not answer", async () => {
    const m = await serve('messenger', messengerHandler('cluster-2', 'Hello <b>world</b> from {cluster}'));
    const g = await serve('greeter', greeterHandler(m, {}));
    const page = await (await fetch(`${g}/greeter`)).text();
    expect(page).toContain('Hello &#60;b&#62;world&#60;/b&#62; from cluster-2');
    expect(page).toContain('delivered by messenger in cluster-2');
    servers[0]!.close();
    servers[0]!.closeAllConnections();
    const down = await fetch(`${g}/greeter`);
    expect(down.status).toBe(200);
    expect(await down.text()).toContain(UNAVAILABLE);
  });
});
