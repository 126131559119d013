/**
 * The audit log: one JSON line per mutating call on the config API listener (every method but
 * GET, HEAD and OPTIONS; a proxy's certificate request is the CA's, counted in its metrics), with
 * who made it, what it was, when, and the result. Refused attempts are recorded too. Default file:
 * `$BOWLINE_HOME/audit.log` (mode 0600, appended); `bowline up --audit-log FILE|-`.
 *
 * A line is written (synchronously, to a file opened for appending) when the handler ends the
 * response, before the client can see it: whoever saw an answer finds its record in the log.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { callerName, type Caller } from './access.js';
import { parseResourcePath } from './config-api.js';

/** One audit record (a line of the log). */
export interface AuditRecord {
  /** ISO time the request arrived. */
  time: string;
  /** The caller: `admin-token`, `api-token`, `local` (loopback, no token) or `anonymous`. */
  who: { kind: Caller['kind']; scope: Caller['scope']; tokenId?: string; name?: string; remote: string };
  /** The call: method, path (query left out: it may carry nothing but options) and the object it names. */
  what: { method: string; path: string; kind?: string; namespace?: string; name?: string; subresource?: string; dryRun?: boolean };
  /** HTTP status; `allowed` (2xx/3xx), `refused` (401/403), `failed` (any other); `aborted` when the client went away. */
  status: number;
  result: 'allowed' | 'refused' | 'failed' | 'aborted';
  durationMs: number;
}

/** Paths whose POSTs are not operator writes: proxies' certificate requests (their own credential, counted by the CA). */
const NOT_AUDITED = new Set(['/v1/ca/certificates']);

/** True when a request changes something and goes to the audit log. */
export function isAudited(method: string, path: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS' && !NOT_AUDITED.has(path);
}

/** The `metadata.name` of the object a create answered with (a POST to a collection names it only in the body). */
function nameInBody(chunk: unknown): string | undefined {
  try {
    const name = (JSON.parse(String(chunk)) as { metadata?: { name?: unknown } }).metadata?.name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/** Where audit lines go. */
export type AuditSink = (line: string) => void;

/** The audit log of one control plane. */
export class AuditLog {
  private fd: number | undefined;
  private failed = false;
  private readonly sink: AuditSink;

  /** `target`: a file path (opened now, so an unwritable path stops the start), or a sink function. */
  constructor(target: string | AuditSink, private readonly log: (line: string) => void, private readonly now: () => number = Date.now) {
    if (typeof target === 'function') this.sink = target;
    else {
      this.fd = openSync(target, 'a', 0o600); // fails here, at start, when the file cannot be written
      this.sink = (line) => {
        if (this.fd === undefined) return;
        try {
          writeSync(this.fd, line);
          this.failed = false;
        } catch (err) {
          if (!this.failed) this.log(`audit error: BOWLINE_E_AUDIT_WRITE: cannot append to ${target}: ${(err as Error).message}`);
          this.failed = true;
        }
      };
    }
  }

  /** Records the request when its handler ends the response (or when the client went away first). */
  track(req: IncomingMessage, res: ServerResponse, path: string, caller: () => Caller): void {
    const method = req.method ?? 'GET';
    if (!isAudited(method, path)) return;
    const started = this.now();
    let done = false;
    let objectName: string | undefined;
    const write = (aborted: boolean) => {
      if (done) return;
      done = true;
      const c = caller();
      const rp = parseResourcePath(path);
      const status = res.statusCode;
      const rec: AuditRecord = {
        time: new Date(started).toISOString(),
        who: { kind: c.kind, scope: c.scope, ...(c.tokenId ? { tokenId: c.tokenId, name: c.name } : {}), remote: req.socket.remoteAddress ?? '' },
        what: {
          method, path,
          ...(rp ? { kind: rp.kind.kind, ...(rp.namespace && rp.kind.namespaced ? { namespace: rp.namespace } : {}), ...(rp.name ?? objectName ? { name: rp.name ?? objectName } : {}), ...(rp.subresource ? { subresource: rp.subresource } : {}) } : {}),
          ...(/[?&]dryRun=/.test(req.url ?? '') ? { dryRun: true } : {}),
        },
        status,
        result: aborted ? 'aborted' : status === 401 || status === 403 ? 'refused' : status < 400 ? 'allowed' : 'failed',
        durationMs: this.now() - started,
      };
      this.sink(JSON.stringify(rec) + '\n');
      if (rec.result === 'refused') this.log(`audit: refused ${method} ${path} from ${callerName(c)} at ${rec.who.remote} (${status})`);
    };
    const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
    res.end = ((...a: unknown[]) => {
      if (!done && !objectName && method === 'POST' && res.statusCode < 300 && (Buffer.isBuffer(a[0]) || typeof a[0] === 'string')) objectName = nameInBody(a[0]);
      write(false);
      return end(...a);
    }) as typeof res.end;
    res.once('close', () => write(true));
  }

  /** Closes the file. */
  async close(): Promise<void> {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
