// Child process of the crash test: writes keys concurrently and prints "ack KEY" once each write resolves.
import { openEmbeddedStore } from './embedded.js';

const store = await openEmbeddedStore({ dir: process.argv[2]! });
let i = 0;
async function writer(w: number): Promise<void> {
  for (;;) {
    const key = `crash/${w}/${i++}`;
    if (w % 2 === 0) await store.putRaw(key, 'v'.repeat(100));
    else await store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: key.replaceAll('/', '-'), namespace: 'default' }, data: {} });
    process.stdout.write(`ack ${w % 2 === 0 ? key : 'cm:' + key.replaceAll('/', '-')}\n`);
  }
}
process.stdout.write('ready\n');
await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(writer));
