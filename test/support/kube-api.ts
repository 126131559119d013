/**
 * A small Kubernetes API client for tests (the harness's own calls: Nodes, bindings, Pod
 * status). Plain HTTPS with a bearer token and the apiserver's CA; JSON in and out; watches as
 * newline-delimited JSON streams. Deliberately independent of the client library under test.
 */
import { Agent, request } from 'node:https';

/** A call the apiserver answered with a non-2xx status (its Status reason and message kept). */
export class KubeApiError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** One watch event. */
export interface WatchEvent<T = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** Any Kubernetes object, loosely typed (tests read the fields they need). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string; [k: string]: unknown };
  spec?: any;
  status?: any;
  [k: string]: unknown;
}

/** Talks to one apiserver as one user. */
export class KubeApi {
  private readonly agent: Agent;

  constructor(readonly server: string, readonly token: string, readonly caPem: string) {
    this.agent = new Agent({ keepAlive: true, ca: caPem });
  }

  /** Sends one request; resolves with the parsed body, throws KubeApiError on non-2xx. */
  async call<T = any>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const { status, text } = await this.raw(method, path, body, contentType);
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (status < 200 || status >= 300) throw new KubeApiError(status, parsed?.reason ?? '', `${method} ${path}: HTTP ${status}: ${parsed?.message ?? text.slice(0, 300)}`);
    return parsed as T;
  }

  /** Like `call` but never throws on an HTTP status: the status and body text. */
  raw(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; text: string }> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(this.server + path, {
        method, agent: this.agent, timeout: 30_000,
        headers: { authorization: `Bearer ${this.token}`, accept: 'application/json', ...(payload !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {}) },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { text += c; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** GET; undefined on 404. */
  async get<T = KubeObject>(path: string): Promise<T | undefined> {
    try {
      return await this.call<T>('GET', path);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** POST a new object. */
  create<T = KubeObject>(path: string, obj: unknown): Promise<T> {
    return this.call<T>('POST', path, obj);
  }

  /** JSON merge patch. */
  mergePatch<T = KubeObject>(path: string, patch: unknown): Promise<T> {
    return this.call<T>('PATCH', path, patch, 'application/merge-patch+json');
  }

  /** DELETE (already gone is fine). */
  async delete(path: string, options?: unknown): Promise<void> {
    try {
      await this.call('DELETE', path, options);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
  }

  /**
   * Lists `path` then watches it from the list's resourceVersion, calling `onEvent` for every
   * object (ADDED for the list's items). Re-lists after an expired resourceVersion (410) or a
   * dropped stream until `signal` aborts.
   */
  async listWatch(path: string, onEvent: (ev: WatchEvent) => void | Promise<void>, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let rv: string;
      try {
        const list = await this.call<{ items: KubeObject[]; metadata: { resourceVersion: string } }>('GET', path);
        for (const item of list.items) await onEvent({ type: 'ADDED', object: item });
        rv = list.metadata.resourceVersion;
      } catch (err) {
        if (signal.aborted) return;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      while (!signal.aborted) {
        const next = await this.watchOnce(`${path}${path.includes('?') ? '&' : '?'}watch=1&allowWatchBookmarks=true&resourceVersion=${rv}`, onEvent, signal).catch(() => undefined);
        if (next === undefined) break; // relist
        rv = next;
      }
    }
  }

  /** One watch stream; resolves with the last resourceVersion seen, or undefined when the caller must relist. */
  private watchOnce(path: string, onEvent: (ev: WatchEvent) => void | Promise<void>, signal: AbortSignal): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      let rv = /resourceVersion=([^&]+)/.exec(path)![1];
      let chain = Promise.resolve();
      const req = request(this.server + path, { method: 'GET', agent: this.agent, signal, headers: { authorization: `Bearer ${this.token}`, accept: 'application/json' } }, (res) => {
        if (res.statusCode !== 200) { res.resume(); return resolve(undefined); }
        let buf = '';
        let gone = false;
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (!line.trim()) continue;
            const ev = JSON.parse(line) as WatchEvent;
            if (ev.type === 'ERROR') { gone = true; continue; }
            rv = ev.object.metadata.resourceVersion ?? rv;
            if (ev.type !== 'BOOKMARK') chain = chain.then(() => onEvent(ev)).catch(() => {});
          }
        });
        res.on('end', () => void chain.then(() => resolve(gone ? undefined : rv)));
        res.on('error', (e) => reject(e));
      });
      req.on('error', (e) => (signal.aborted ? resolve(undefined) : reject(e)));
      req.end();
    });
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}
