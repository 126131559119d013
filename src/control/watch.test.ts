import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '../store/index.js';
import { parseResourcePath } from './config-api.js';
import { serveWatch } from './watch.js';
import { tempDir } from '../../test/support/temp.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

describe('watch', () => {
  it('ends the watch of a client that stops reading once its unread bytes pass the limit, instead of buffering every event', async () => {
    const dir = tempDir('bowline-watch-');
    const store = await openEmbeddedStore({ dir });
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }), () => store.close());
    const path = parseResourcePath('/apis/networking.istio.io/v1/namespaces/default/virtualservices')!;
    let ended!: () => void;
    const watchEnded = new Promise<void>((r) => (ended = r));
    const http = createServer((req, res) => void serveWatch(store, req, res, path, new URLSearchParams('watch=1'), (o) => o, { maxBufferedBytes: 64 * 1024 }).then(ended));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => { http.closeAllConnections(); http.close(r); }));
    const client = connect((http.address() as AddressInfo).port, '127.0.0.1');
    cleanup.push(() => client.destroy());
    client.write('GET /w HTTP/1.1\r\nhost: x\r\n\r\n');
    client.pause(); // never reads: the server's socket and response buffers fill
    const big = 'x'.repeat(4096);
    let written = 0;
    let done = false;
    void watchEnded.then(() => (done = true));
    // At most 2000 writes of ~4 KiB (8 MiB); the watch must give up long before.
    while (!done && written < 2000) {
      await store.create({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: `vs-${written}`, namespace: 'default', annotations: { pad: big } }, spec: { hosts: ['h'] } });
      written++;
    }
    expect(done).toBe(true);
    expect(written).toBeLessThan(2000);
  });
});
