// Runs `bowline demo` as a user does, for the Bookinfo end-to-end tests: waits for it to be up,
// reads its state file (HOME/demo.json), and stops it with Ctrl-C (SIGINT).
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { startBowline, repoRoot, type Child } from '../support/process.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { meshGaps } from '../../src/cli/demo/capabilities.js';

/** The demo's state file as `bowline demo` writes it. */
export interface DemoState {
  productPageUrl: string;
  apiUrl?: string;
  outbound: Record<string, string>;
  processes: Array<{ name: string; pid: number; log: string }>;
}

/** A running demo. */
export interface Demo {
  child: Child;
  port: number;
  home: string;
  base: string;
  state: DemoState;
  /** Ctrl-C; resolves to the exit code. */
  interrupt(): Promise<number | null>;
}

let gaps: string[] | undefined;
/** Why the mesh demo cannot run in this build (missing commands or proxy flags), or undefined when it can. */
export function meshMissing(): string | undefined {
  if (!built) return 'not built (npm run build)';
  gaps ??= meshGaps();
  return gaps.length ? `this build lacks ${gaps.join(', ')}` : undefined;
}

/** True when the compiled CLI and samples exist (the e2e project runs after `npm run build`). */
export const built = existsSync(`${repoRoot}dist/cli/main.js`) && existsSync(`${repoRoot}dist/samples/bookinfo/productpage.js`);

/**
 * Starts `bowline demo ARGS --port FREE` and resolves once it prints `upLine` (the product page is up). The port is
 * free when picked but released until the demo holds it (~0.3 s): taken meanwhile by another
 * process on the machine, the demo refuses it (BOWLINE_E_DEMO_PORT_TAKEN, and nothing else) and
 * another is tried. (The demo needs a fixed --port: it serves the Gateway's port 80 there.)
 */
export async function startDemo(args: string[] = [], timeoutMs = 60_000, upLine = 'Bookinfo is up in'): Promise<Demo> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDemoOnce(args, timeoutMs, upLine);
    } catch (err) {
      if (attempt >= 5 || !(err instanceof PortTaken)) throw err;
    }
  }
}

/** The demo refused its --port (BOWLINE_E_DEMO_PORT_TAKEN): someone else bound it after we picked it. */
class PortTaken extends Error {}

async function startDemoOnce(args: string[], timeoutMs: number, upLine: string): Promise<Demo> {
  const port = await freePort();
  const child = startBowline(['demo', '--port', String(port), ...args]);
  const exited = child.exited();
  try {
    // (waitFor retries a check that throws: an exit is a result of the check, so the wait ends at once.)
    const state = await waitFor(() => (child.proc.exitCode !== null ? 'exited' : child.output().includes(upLine) && 'up'), { timeoutMs, intervalMs: 100, what: 'bowline demo up' });
    if (state === 'exited') throw new Error(`demo exited ${child.proc.exitCode}`);
  } catch (err) {
    await child.stop();
    await exited; // its output read to the end
    const home = /\(home (\S+?)[,)]/.exec(child.output())?.[1];
    const message = `${(err as Error).message}\n--- demo output ---\n${child.output()}${home ? `\n${logDiagnostics(home)}` : ''}`;
    throw child.output().includes('BOWLINE_E_DEMO_PORT_TAKEN') ? new PortTaken(message) : new Error(message);
  }
  const home = /\(home (\S+?)[,)]/.exec(child.output())![1]!;
  const state = JSON.parse(readFileSync(`${home}/demo.json`, 'utf8')) as DemoState;
  return {
    child, port, home, state, base: `http://127.0.0.1:${port}`,
    async interrupt() {
      if (child.proc.exitCode !== null) return child.proc.exitCode;
      child.proc.kill('SIGINT');
      const t = setTimeout(() => child.proc.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** True while a process with `pid` exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One HTTP request from a test: status, headers and body text (no connection reuse). */
export function request(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Signs in through the product page's form; resolves to the session cookie (`session=...`). */
export async function signIn(base: string, user: string): Promise<string> {
  const r = await request(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `username=${encodeURIComponent(user)}&passwd=anything` });
  if (r.status !== 302) throw new Error(`sign in answered ${r.status}: ${r.text}`);
  return String(r.headers['set-cookie']).split(';')[0]!;
}

/** The reviews version that served one request through `base`, read from the podname (`reviews-v2-...`). */
export async function reviewsVersion(base: string, cookie?: string): Promise<string> {
  const r = await request(`${base}/api/v1/products/0/reviews`, { headers: cookie ? { cookie } : {} });
  if (r.status !== 200) return `status ${r.status}`;
  return /reviews-(v\d)/.exec(JSON.parse(r.text).podname)?.[1] ?? 'unknown';
}

/** The reviews versions of `n` requests in a row. */
export async function reviewsVersions(base: string, n: number, cookie?: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await reviewsVersion(base, cookie));
  return out;
}

/** Waits until `n` requests in a row are all served by `version` (the config has reached the proxies). */
export async function untilReviews(base: string, version: string, cookie?: string, n = 10): Promise<void> {
  await waitFor(async () => (await reviewsVersions(base, n, cookie)).every((v) => v === version), { timeoutMs: 15_000, intervalMs: 100, what: `every request to reviews ${version}` });
}

/** The last `n` lines of a file ('' when unreadable). */
function tail(file: string, n: number): string {
  try { return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n'); } catch { return ''; }
}

/**
 * What to read when a walkthrough fails: every demo process that is no longer running, with the
 * tail of its log, and each process's lines about refused configs or failed binds (a sidecar that
 * NACKs its config, e.g. EADDRINUSE, stays alive but serves nothing).
 */
export function demoDiagnostics(demo: Pick<Demo, 'home' | 'state'>): string {
  const out: string[] = ['--- demo diagnostics ---'];
  for (const p of demo.state.processes) {
    if (p.pid && !alive(p.pid)) out.push(`${p.name} (pid ${p.pid}) is not running; ${p.log}:\n${tail(p.log, 20)}`);
  }
  out.push(logDiagnostics(demo.home));
  return out.join('\n');
}

/** Lines about refused configs, failed binds and errors in every log under HOME/logs, per file (at most 5 each). */
function logDiagnostics(home: string): string {
  const dir = `${home}/logs`;
  const out: string[] = [];
  let files: string[] = [];
  try { files = readdirSync(dir); } catch { return `(no logs in ${dir})`; }
  for (const f of files) {
    const bad = tail(`${dir}/${f}`, 2000).split('\n').filter((l) => /NACK|refused|EADDRINUSE|exited|uncaught|BOWLINE_E_/i.test(l));
    if (bad.length) out.push(`${dir}/${f}:\n  ${bad.slice(-5).join('\n  ')}`);
  }
  return out.length ? out.join('\n') : `(no refused configs or errors in ${dir})`;
}
