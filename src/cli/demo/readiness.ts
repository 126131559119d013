// Waiting for the demo's processes: a line in a log, an HTTP answer; failing fast if the process died.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Supervisor, type Managed } from './supervisor.js';

/** An error that says which process failed to come up and where its log is. */
export class StartError extends Error {
  constructor(readonly process: Managed, message: string) {
    super(`${message}; its log: ${process.logPath}${Supervisor.tail(process) ? `\n    ${Supervisor.tail(process).split('\n').join('\n    ')}` : ''}`);
  }
}

/**
 * How long the demo waits for one process to come up (a log line, an answer, a ports file). Each
 * wait ends at once when the process exits, so a generous bound costs nothing when things go well;
 * on a busy 2-core machine sidecars took 17 s. BOWLINE_DEMO_START_TIMEOUT_MS overrides it.
 */
export const START_TIMEOUT_MS = Number(process.env.BOWLINE_DEMO_START_TIMEOUT_MS) > 0 ? Number(process.env.BOWLINE_DEMO_START_TIMEOUT_MS) : 60_000;

async function poll<T>(m: Managed, what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (!Supervisor.alive(m)) throw new StartError(m, `${m.spec.name} exited (code ${m.proc.exitCode ?? m.proc.signalCode}) before ${what}`);
    if (Date.now() > deadline) throw new StartError(m, `${m.spec.name}: no ${what} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until `m`'s log has a line matching `re`; resolves to the match. */
export function logLine(m: Managed, re: RegExp, what: string, timeoutMs = START_TIMEOUT_MS): Promise<RegExpExecArray> {
  return poll(m, what, timeoutMs, () => {
    let text = '';
    try { text = readFileSync(m.logPath, 'utf8'); } catch {}
    return re.exec(text) ?? undefined;
  });
}

/** One GET; resolves to status and body, or undefined when nothing answers. */
export function httpGet(url: string, timeoutMs = 2000, headers: Record<string, string> = {}): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** Waits until GET `url` answers and `ok` accepts the answer. */
export function httpReady(m: Managed, url: string, what: string, ok: (r: { status: number; body: string }) => boolean = (r) => r.status === 200, timeoutMs = START_TIMEOUT_MS): Promise<{ status: number; body: string }> {
  return poll(m, what, timeoutMs, async () => {
    const r = await httpGet(url);
    return r && ok(r) ? r : undefined;
  });
}
