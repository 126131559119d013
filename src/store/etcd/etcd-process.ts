import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One running etcd member started for tests or local trials. */
export interface EtcdMember {
  name: string;
  clientUrl: string;
  proc: ChildProcess;
  /** Kills the member (SIGKILL) and resolves once it has exited. */
  kill(): Promise<void>;
}

/** A running etcd cluster on loopback; `url` is the `etcd://` spec of every member. */
export interface EtcdCluster {
  url: string;
  members: EtcdMember[];
  output(): string;
  /** Stops every member and removes the data directories. */
  stop(): Promise<void>;
  /** Restarts a killed member with its data directory. */
  restart(i: number): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok && ((await res.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

/**
 * Starts `size` etcd members (Debian's /usr/bin/etcd) on loopback ports and waits until healthy.
 * etcd cannot take its sockets from us and its members must know each other's peer URL before they
 * start, so the ports are asked of the kernel (port 0) and released just before etcd binds them; when
 * another process takes one in that moment (etcd says "address already in use"), the whole start is
 * retried with new ports rather than failing the caller.
 */
export async function startEtcd(size = 1, bin = process.env.BOWLINE_ETCD_BIN ?? '/usr/bin/etcd', pickPort: () => Promise<number> = freePort): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(size, bin, pickPort);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt >= 5) throw err;
    }
  }
}

/** etcd could not bind a port released for it: another process took it. */
class PortTaken extends Error {}

async function startOnce(size: number, bin: string, pickPort: () => Promise<number>): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'bowline-etcd-'));
  const ports = [] as Array<{ client: number; peer: number }>;
  for (let i = 0; i < size; i++) ports.push({ client: await pickPort(), peer: await pickPort() });
  const initial = ports.map((p, i) => `m${i}=http://127.0.0.1:${p.peer}`).join(',');
  let out = '';
  const members: EtcdMember[] = [];
  const launch = (i: number): EtcdMember => {
    const p = ports[i]!;
    const clientUrl = `http://127.0.0.1:${p.client}`;
    const proc = spawn(bin, [
      '--name', `m${i}`, '--data-dir', join(dir, `m${i}`),
      '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', `http://127.0.0.1:${p.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${p.peer}`,
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'bowline-test',
      '--heartbeat-interval', '50', '--election-timeout', '500',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => { out += d; if (out.length > 1 << 20) out = out.slice(-(1 << 19)); };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    return {
      name: `m${i}`, clientUrl, proc,
      async kill() {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        await exited;
      },
    };
  };
  for (let i = 0; i < size; i++) members.push(launch(i));
  const waitHealthy = async (urls: string[]) => {
    const deadline = Date.now() + 20_000;
    for (const u of urls) {
      while (!(await healthy(u))) {
        if (/address already in use/.test(out) && members.some((m) => m.proc.exitCode !== null)) throw new Error(`etcd could not bind its port:\n${out.slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`etcd did not become healthy:\n${out.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  try {
    await waitHealthy(members.map((m) => m.clientUrl));
  } catch (err) {
    await Promise.all(members.map((m) => m.kill()));
    rmSync(dir, { recursive: true, force: true });
    if (/address already in use/.test(out)) throw new PortTaken(out.slice(-2000));
    throw err;
  }
  return {
    url: `etcd://${ports.map((p) => `127.0.0.1:${p.client}`).join(',')}`,
    members,
    output: () => out,
    async stop() {
      await Promise.all(members.map((m) => m.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
    async restart(i: number) {
      await members[i]!.kill();
      members[i] = launch(i);
      await waitHealthy([members[i]!.clientUrl]);
    },
  };
}
