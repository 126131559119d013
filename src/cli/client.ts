import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { errorLine, UsageError } from './command.js';
import { writeStderr, writeStdout } from './pipes.js';

/** The Bowline home: `--home`, else $BOWLINE_HOME, else ~/.bowline. */
export function bowlineHome(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env.BOWLINE_HOME || join(homedir(), '.bowline');
}

/** The CLI context file (`$BOWLINE_HOME/config`), written by `bowline up`: `{"server": URL}`. */
export function contextPath(home: string): string {
  return join(home, 'config');
}

/** Records the API URL so later CLI commands find the control plane without flags. */
export function writeContext(home: string, server: string): void {
  mkdirSync(home, { recursive: true });
  writeFileSync(contextPath(home), JSON.stringify({ server }, null, 2) + '\n', { mode: 0o600 });
}

/** Where the CLI talks to, and with which token. */
export interface Target {
  server: string;
  token?: string;
  /** Where the server URL came from (flag, env, context file, default). */
  source: string;
  /** PEM bundle the HTTPS API's certificate chains to (HOME/api-ca.pem, written by `bowline up --api-tls`; or $BOWLINE_CA_FILE). */
  ca?: string;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Resolves the server: `--server`, then $BOWLINE_SERVER, then the context file, then http://127.0.0.1:15014. */
export function resolveTarget(flags: { server?: string; home?: string }, env: NodeJS.ProcessEnv = process.env): Target {
  const home = bowlineHome(flags.home, env);
  let server = flags.server;
  let source = '--server';
  if (!server && env.BOWLINE_SERVER) [server, source] = [env.BOWLINE_SERVER, 'BOWLINE_SERVER'];
  if (!server) {
    const ctx = readText(contextPath(home));
    if (ctx) {
      try {
        const s = (JSON.parse(ctx) as { server?: unknown }).server;
        if (typeof s === 'string' && s) [server, source] = [s, contextPath(home)];
      } catch {}
    }
  }
  if (!server) [server, source] = ['http://127.0.0.1:15014', 'default'];
  if (!/^https?:\/\//.test(server)) server = `http://${server}`;
  const token = env.BOWLINE_TOKEN || readText(join(home, 'admin-token'))?.trim();
  const ca = server.startsWith('https://') ? readText(env.BOWLINE_CA_FILE || join(home, 'api-ca.pem')) : undefined;
  return { server: server.replace(/\/+$/, ''), source, ...(token ? { token } : {}), ...(ca ? { ca } : {}) };
}

/** The control plane could not be reached (code BOWLINE_E_CLI_UNREACHABLE). */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
  readonly code = 'BOWLINE_E_CLI_UNREACHABLE';
}

/** One answer of the config API: status and parsed JSON body (or text). */
export interface ApiResponse {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

/** A small client of the config API, as the CLI uses it. */
export class ApiClient {
  private readonly dispatcher?: Agent;
  constructor(readonly target: Target, private readonly timeoutMs = 15_000) {
    // An HTTPS API with Bowline's CA: trust that bundle (else the system's roots, which do not know it).
    if (target.ca) this.dispatcher = new Agent({ connect: { ca: target.ca } });
  }

  /** Sends one request; throws UnreachableError when nothing answers. */
  async call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiResponse> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.target.token) headers.authorization = `Bearer ${this.target.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      headers['content-type'] = contentType;
    }
    let res;
    try {
      res = await request(this.target.server + path, {
        method: method as 'GET', headers, ...(payload !== undefined ? { body: payload } : {}),
        headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
    } catch (err) {
      const why = (err as { code?: string }).code ?? (err as Error).message;
      throw new UnreachableError(`cannot reach the control plane at ${this.target.server} (${why}): is \`bowline up\` running? (server from ${this.target.source}; set --server or BOWLINE_SERVER)`);
    }
    const text = await res.body.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch {}
    return { status: res.statusCode, body: parsed, headers: res.headers };
  }
}

/** An error answer of the control plane, as the CLI reports it: `code` is the Bowline code the answer names, else BOWLINE_E_CLI_API. */
export class ApiFailure extends Error {
  override name = 'ApiFailure';
  constructor(readonly code: string, message: string, readonly status: number) {
    super(message);
  }
}

/** The Bowline code an error answer carries (`error.code`, a cause's reason, or a message starting with it), if any. */
export function failureCode(res: ApiResponse): string | undefined {
  const b = res.body as { error?: { code?: unknown }; message?: unknown; details?: { causes?: Array<{ reason?: unknown }> } } | string | undefined;
  if (!b || typeof b !== 'object') return undefined;
  if (typeof b.error?.code === 'string' && b.error.code.startsWith('BOWLINE_')) return b.error.code;
  const m = typeof b.message === 'string' ? /^(BOWLINE_[EW]_[A-Z0-9_]+)\b/.exec(b.message) : null;
  if (m) return m[1];
  const cause = b.details?.causes?.find((c) => typeof c.reason === 'string' && c.reason.startsWith('BOWLINE_'));
  return cause ? (cause.reason as string) : undefined;
}

/** An error answer as an ApiFailure: the server's code (or BOWLINE_E_CLI_API) and kubectl's one-line form. */
export function apiFailure(res: ApiResponse): ApiFailure {
  const b = res.body as { error?: { message?: string } } | undefined;
  const code = failureCode(res) ?? 'BOWLINE_E_CLI_API';
  const line = typeof b === 'object' && b?.error?.message ? `Error from server (${res.status}): ${b.error.message}` : describeFailure(res);
  // `CODE: ` once, in front (bowline CMD: CODE: message), not again inside the server's message.
  return new ApiFailure(code, line.replace(`: ${code}: `, ': '), res.status);
}

/** One failure line of a client command, `bowline CMD: CODE: message\n`, for an error or an error answer of the control plane. */
export function failureLine(cmd: string, what: Error | ApiResponse): string {
  return `bowline ${cmd}: ${errorLine(what instanceof Error ? what : apiFailure(what))}\n`;
}

/** A Status error body as one line, like kubectl: `Error from server (NotFound): message`. */
export function describeFailure(res: ApiResponse): string {
  const b = res.body as { reason?: string; message?: string } | string;
  if (typeof b === 'object' && b && b.message) return `Error from server (${b.reason ?? res.status}): ${b.message}`;
  return `Error from server (${res.status}): ${typeof b === 'string' ? b.slice(0, 500) : JSON.stringify(b)}`;
}

/** Where a command writes and reads; tests pass their own. */
export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  readStdin: () => Promise<string>;
}

/** The process's own stdout, stderr and stdin (`-f -`; refused past the API's input limit, not buffered without end). */
export const processIO: CliIO = {
  stdout: writeStdout,
  stderr: writeStderr,
  readStdin: async () => {
    const { MAX_INPUT_CHARS } = await import('../api/parse.js'); // only `-f -` pays for loading the api
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of process.stdin) {
      size += (c as Buffer).length;
      if (size > MAX_INPUT_CHARS) throw new UsageError(`stdin is larger than ${MAX_INPUT_CHARS / 1048576} MB`);
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  },
};
