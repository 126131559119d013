/**
 * Simulated proxies for `npm run bench -- push`: one process holds many real push streams (TCP,
 * the stream's framing, hello with a workload announcement, an ACK per push). It does not build
 * a proxy config from each push (that is the proxy's cost, not the control plane's); it reads
 * the nonce from the head of each message and counts bytes.
 * argv: PORT FIRST COUNT
 */
import { connect, type Socket } from 'node:net';
import { PUSH_PROTOCOL_VERSION } from '../src/proxy-config/wire.js';

const [port, first, count] = process.argv.slice(2).map(Number) as [number, number, number];
let acks = 0;
let bytes = 0;

function open(i: number): Promise<void> {
  return new Promise((resolve) => {
    const id = `sim-${i}.bench`;
    const sock: Socket = connect({ port, host: '127.0.0.1' });
    let head = '';
    let inMessage = false;
    let firstAck = true;
    sock.setNoDelay(true);
    sock.on('connect', () => {
      const node = { id, role: 'sidecar', workload: `sim-${i}`, namespace: 'bench', serviceAccount: 'sim', labels: { app: `sim-${i % 50}` } };
      const workload = { name: `sim-${i}`, namespace: 'bench', serviceAccount: 'sim', labels: node.labels, address: '127.0.0.1', services: [] };
      sock.write(JSON.stringify({ type: 'hello', protocol: PUSH_PROTOCOL_VERSION, node, workload }) + '\n');
    });
    sock.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        const end = nl < 0 ? chunk.length : nl;
        if (!inMessage || head.length < 64) head += chunk.toString('latin1', start, Math.min(end, start + 64));
        inMessage = true;
        if (nl < 0) break;
        const m = /"nonce":"([^"]+)"/.exec(head);
        if (head.startsWith('{"type":"push"') && m) {
          sock.write(`{"type":"ack","nonce":"${m[1]}","versions":{}}\n`);
          acks++;
          if (firstAck) {
            firstAck = false;
            resolve();
          }
        }
        head = '';
        inMessage = false;
        start = nl + 1;
        if (start >= chunk.length) break;
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => resolve());
  });
}

async function main(): Promise<void> {
  // Connect in small waves so the control plane's first full pushes are spread out.
  const wave = 50;
  for (let i = first; i < first + count; i += wave) {
    await Promise.all(Array.from({ length: Math.min(wave, first + count - i) }, (_, k) => open(i + k)));
    process.send?.({ type: 'progress', connected: i + wave - first });
  }
  process.send?.({ type: 'ready' });
  setInterval(() => process.send?.({ type: 'stats', acks, bytes }), 1000).unref();
}

process.on('message', (m: { type?: string }) => {
  if (m?.type === 'exit') process.exit(0);
});
void main();
