/**
 * A small client of the Kubernetes REST API for the store: JSON calls and watch streams over the
 * credentials of a kubeconfig (token, client certificate, exec plugin) or the in-cluster
 * service account, as @kubernetes/client-node's KubeConfig resolves them.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

/** A failed call: the HTTP status (0: unreachable) and the apiserver's Status reason and message. */
export class KubeCallError extends Error {
  override name = 'KubeCallError';
  constructor(readonly status: number, readonly reason: string, message: string, readonly details?: { kind?: string; name?: string }) {
    super(message);
  }
}

/** One watch event as the apiserver streams it. */
export interface KubeWatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Record<string, any>;
}

/** The JSON client. */
export class KubeRest {
  private readonly kc = new KubeConfig();
  readonly server: string;

  /** From a kubeconfig file, or (without one) the pod's service account. */
  constructor(kubeconfig?: string) {
    if (kubeconfig) this.kc.loadFromFile(kubeconfig);
    else this.kc.loadFromCluster();
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error(`${kubeconfig ?? 'the in-cluster configuration'} names no current cluster`);
    this.server = cluster.server.replace(/\/+$/, '');
  }

  private async open(method: string, path: string, headers: Record<string, string>): Promise<{ req: ReturnType<typeof httpRequest> }> {
    const url = new URL(this.server + path);
    const opts: RequestOptions & { headers: Record<string, string> } = {
      method, protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, path: url.pathname + url.search,
      headers: { accept: 'application/json', ...headers },
    };
    await this.kc.applyToHTTPSOptions(opts as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(opts);
    return { req };
  }

  /** One call; resolves with the parsed body of a 2xx answer, rejects with KubeCallError otherwise. */
  async call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<any> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const { req } = await this.open(method, path, payload !== undefined ? { 'content-type': contentType } : {});
    return new Promise((resolve, reject) => {
      req.setTimeout(30_000, () => req.destroy(new Error('timed out after 30 s')));
      req.on('error', (e: Error & { code?: string }) => reject(new KubeCallError(0, 'Unreachable', `${method} ${this.server}${path}: ${e.code ?? e.message}`)));
      req.on('response', (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('error', (e) => reject(new KubeCallError(0, 'Unreachable', `${method} ${path}: ${e.message}`)));
        res.on('end', () => {
          let parsed: any;
          try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(parsed);
          reject(new KubeCallError(status, parsed?.reason ?? `HTTP ${status}`, `${method} ${path}: ${parsed?.message ?? (text.slice(0, 300) || `HTTP ${status}`)}`, parsed?.details));
        });
      });
      req.end(payload);
    });
  }

  /** Opens a watch stream (`path` already has `watch=1` and its parameters); `onEnd` gets the error that ended it, if any. */
  async watch(path: string, onEvent: (ev: KubeWatchEvent) => void, onEnd: (err?: KubeCallError) => void): Promise<{ close(): void }> {
    const { req } = await this.open('GET', path, {});
    let ended = false;
    const end = (err?: KubeCallError) => { if (!ended) { ended = true; onEnd(err); } };
    req.on('error', (e: Error & { code?: string }) => end(new KubeCallError(0, 'Unreachable', `watch ${path}: ${e.code ?? e.message}`)));
    req.on('response', (res: IncomingMessage) => {
      res.setEncoding('utf8');
      if ((res.statusCode ?? 0) >= 300) {
        let text = '';
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let parsed: any;
          try { parsed = JSON.parse(text); } catch { parsed = undefined; }
          end(new KubeCallError(res.statusCode ?? 0, parsed?.reason ?? `HTTP ${res.statusCode}`, `watch ${path}: ${parsed?.message ?? text.slice(0, 300)}`));
        });
        return;
      }
      let buf = '';
      res.on('data', (c: string) => {
        buf += c;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          let ev: KubeWatchEvent;
          try { ev = JSON.parse(line) as KubeWatchEvent; } catch { continue; } // a torn line cannot happen on a healthy stream
          onEvent(ev);
        }
      });
      res.on('end', () => end());
      res.on('error', (e) => end(new KubeCallError(0, 'Unreachable', `watch ${path}: ${e.message}`)));
    });
    req.end();
    return { close: () => { ended = true; req.destroy(); } };
  }
}
