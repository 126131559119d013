/**
 * Ports for the benchmark's processes, always from the kernel and never picked then released:
 * - nginx, haproxy and other non-Node programs get a socket this process bound to port 0 and
 *   still holds, as file descriptor 3 (haproxy `bind fd@3`; nginx through its `NGINX=3;`
 *   inherited-sockets variable, which needs `master_process on`). This process closes its copy
 *   only after the child has its own, so the port is never free in between.
 * - `bowline proxy` binds port 0 itself and says which port in its `--ports-file`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';

/** A listening socket on 127.0.0.1 with a kernel-chosen port, to hand to a child as fd 3. */
export interface HeldSocket {
  port: number;
  fd: number;
  /** Closes this process's copy (the child keeps listening on its own). */
  release(): void;
}

/** Binds 127.0.0.1:0 and keeps it open; the caller passes `fd` to a child and then calls release(). */
export async function holdSocket(): Promise<HeldSocket> {
  const s = createServer();
  s.on('connection', (c) => c.destroy()); // nobody connects before release(); belt and braces
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve); });
  const port = (s.address() as { port: number }).port;
  const fd = (s as unknown as { _handle: { fd: number } })._handle.fd;
  return { port, fd, release: () => { s.close(); } };
}

/** Spawns `cmd` with `held` as its fd 3 (stderr piped for errors), then releases this process's copy. */
export function spawnWithSocket(cmd: string, args: string[], held: HeldSocket, env?: NodeJS.ProcessEnv): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe', held.fd], env: env ?? process.env });
  held.release();
  return c;
}

/**
 * The side-by-side drivers' upstream: nginx (one worker) answering every request `200 ok` on
 * `held` (its fd 3, `NGINX=3;`), its files in `dir`.
 */
export function nginxUpstream(dir: string, held: HeldSocket): ChildProcess {
  writeFileSync(join(dir, 'nginx.conf'), `master_process on; daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/nginx.err;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${held.port}; keepalive_requests 1000000; location / { return 200 "ok"; } } }\n`);
  return spawnWithSocket('/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], held, { ...process.env, NGINX: '3;' });
}

/** Waits (bounded) until `file`, a `bowline proxy --ports-file`, names listener `name`; its port. */
export async function listenerPort(file: string, name: string, child: ChildProcess, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const p = (JSON.parse(readFileSync(file, 'utf8')) as { listeners?: Record<string, number> }).listeners?.[name];
      if (typeof p === 'number' && p > 0) return p;
    } catch { /* not written yet */ }
    if (child.exitCode !== null) throw new Error(`bowline proxy exited (${child.exitCode}) before writing ${file}`);
    if (Date.now() > deadline) throw new Error(`${file} did not name listener ${name} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The pid of `pid`'s first child (nginx's worker under its master), waiting for it to exist. */
export async function childPid(pid: number, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      if (kids.length) return kids[0]!;
    } catch { /* not there yet */ }
    if (Date.now() > deadline) throw new Error(`process ${pid} started no child within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * haproxy's configuration for the drivers' haproxy targets: one thread, HTTP mode, listening on its fd 3
 * (`bind fd@3`: a socket the driver bound, bench/ports.ts holdSocket), forwarding to 127.0.0.1:`upstream`
 * over reused keep-alive connections.
 */
export function haproxyConfig(upstream: number): string {
  return `global\n  nbthread 1\n  maxconn 10500\n  ulimit-n 20000\n  no strict-limits\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 30s\n  option http-keep-alive\nfrontend f\n  bind fd@3\n  default_backend b\nbackend b\n  http-reuse always\n  server s1 127.0.0.1:${upstream}\n`;
}
