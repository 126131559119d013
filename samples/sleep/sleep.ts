// A sleep-like client workload: `sleep.js` stays up (serving `/health` when given --port);
// `sleep.js fetch [-X M] [-H 'K: V']... [-d BODY] [-i] [--max-time S] URL` is a small curl that
// sends its request through HTTP_PROXY (its sidecar) when set, and prints the response body.
import { parseArgs } from 'node:util';
import { runApp, isMain, sendJson, HttpError, type Handler } from '../app/serve.js';
import { request } from '../app/outbound.js';

/** Exit codes of `sleep fetch`, like curl's: 0 a reply arrived (any status), 2 usage, 7 connection failed, 28 timed out. */
export const FETCH_EXIT = { ok: 0, usage: 2, connect: 7, timeout: 28 } as const;

/** Runs `fetch ARGS`: prints the reply body (with `-i` the status line and headers first); resolves to the exit code. */
export async function fetchCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        request: { type: 'string', short: 'X' },
        header: { type: 'string', short: 'H', multiple: true },
        data: { type: 'string', short: 'd' },
        include: { type: 'boolean', short: 'i' },
        'max-time': { type: 'string', short: 'm' },
        silent: { type: 'boolean', short: 's' },
      },
    });
  } catch (err) {
    process.stderr.write(`sleep fetch: ${(err as Error).message}\n`);
    return FETCH_EXIT.usage;
  }
  const [target, ...extra] = parsed.positionals;
  let url: URL;
  try {
    if (!target || extra.length) throw new Error('give exactly one URL');
    url = new URL(target);
    if (url.protocol !== 'http:') throw new Error('only http:// URLs (the sidecar originates TLS)');
  } catch (err) {
    process.stderr.write(`sleep fetch: ${(err as Error).message}\n`);
    return FETCH_EXIT.usage;
  }
  const headers: Record<string, string> = { 'user-agent': 'bowline-sleep/1', accept: '*/*' };
  for (const h of parsed.values.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) { process.stderr.write(`sleep fetch: header "${h}" is not "Name: value"\n`); return FETCH_EXIT.usage; }
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  const maxTime = Number(parsed.values['max-time'] ?? 30);
  const data = parsed.values.data;
  try {
    const reply = await request(url, {
      method: parsed.values.request ?? (data !== undefined ? 'POST' : 'GET'),
      headers: data !== undefined && !headers['content-type'] ? { ...headers, 'content-type': 'application/x-www-form-urlencoded' } : headers,
      body: data,
      timeoutMs: maxTime * 1000,
      env,
    });
    if (parsed.values.include) {
      const lines = [`HTTP/1.1 ${reply.status}`];
      for (const [k, v] of Object.entries(reply.headers)) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
      out(lines.join('\r\n') + '\r\n\r\n');
    }
    out(reply.body.toString('utf8'));
    return FETCH_EXIT.ok;
  } catch (err) {
    const msg = (err as Error).message;
    process.stderr.write(`sleep fetch: ${url.href}: ${msg}\n`);
    return msg.startsWith('timed out') ? FETCH_EXIT.timeout : FETCH_EXIT.connect;
  }
}

/** The sleep workload's own handler: `/health` only. */
export function sleepHandler(): Handler {
  return (req, res) => {
    if (req.url === '/health') return sendJson(res, 200, { status: 'sleep is healthy' });
    throw new HttpError(404, 'not found');
  };
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  if (argv[0] === 'fetch') {
    void fetchCommand(argv.slice(1)).then((code) => { process.exitCode = code; });
  } else if (argv.some((a) => a === '--port' || a.startsWith('--port=') || a === '--socket-from-parent') || process.env.PORT) {
    void runApp({ name: 'sleep', defaultPort: 0, create: () => sleepHandler() }, argv);
  } else {
    process.stdout.write('sleep: idle; stop with SIGTERM\n');
    const keep = setInterval(() => {}, 1 << 30);
    const stop = () => { clearInterval(keep); process.exit(0); };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  }
}
