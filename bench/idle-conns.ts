/**
 * Memory per idle downstream connection, for `npm run bench -- proxy` (bowline_idle_conn_kb,
 * haproxy_idle_conn_kb; idle_conns says how many were opened: 10,000, or 1,000 with --quick).
 * Opens `count` keep-alive connections to the proxy, each sends one request and reads its
 * response (so the proxy has built whatever a served connection keeps), then all stay open and
 * idle while the proxy's RSS is read; (RSS after - RSS before) / count. Connections are opened
 * a bounded number at a time, and the whole run is bounded in time.
 */
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** One connection that has had one request answered, left open; rejects on error or after 10 s. */
function servedConnection(port: number, request: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true });
    let buf = '';
    const t = setTimeout(() => { s.destroy(); reject(new Error('no response within 10 s')); }, 10_000);
    s.once('error', (err) => { clearTimeout(t); reject(err); });
    s.once('connect', () => s.write(request));
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const he = buf.indexOf('\r\n\r\n');
      if (he < 0) return;
      const m = /content-length:\s*(\d+)/i.exec(buf.slice(0, he));
      if (buf.length < he + 4 + (m ? Number(m[1]) : 0)) return;
      clearTimeout(t);
      s.off('data', onData);
      s.on('error', () => {});
      resolve(s);
    };
    s.on('data', onData);
  });
}

/** KiB of RSS per idle served connection in process `pids` (summed), or NaN when any connection failed. */
export async function idleConnKb(port: number, pids: number[], count: number, request: string): Promise<number> {
  const before = pids.reduce((a, p) => a + rssKb(p), 0);
  const socks: Socket[] = [];
  let failed = 0;
  const batch = 200;
  try {
    for (let i = 0; i < count; i += batch) {
      const n = Math.min(batch, count - i);
      const got = await Promise.allSettled(Array.from({ length: n }, () => servedConnection(port, request)));
      for (const g of got) if (g.status === 'fulfilled') socks.push(g.value); else failed++;
      if (failed) break;
    }
    const after = pids.reduce((a, p) => a + rssKb(p), 0);
    return failed ? NaN : (after - before) / count;
  } finally {
    for (const s of socks) s.destroy();
  }
}
