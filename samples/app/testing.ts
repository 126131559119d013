// Starting sample apps and stub servers in-process on port 0, for the samples' own tests.
import http from 'node:http';
import { createAppServer, listen, shutdown, type Handler } from './serve.js';

/** A started app: its base URL, the log lines it wrote, and how to stop it. */
export interface Running {
  url: string;
  port: number;
  logs: string[];
  close(): Promise<void>;
}

/** Starts `handler` behind the sample app shell on 127.0.0.1:0. */
export async function startApp(name: string, handler: Handler): Promise<Running> {
  const logs: string[] = [];
  const server = createAppServer(name, handler, (l) => logs.push(l));
  const port = await listen(server, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, port, logs, close: () => shutdown(server, 100) };
}

/** A plain HTTP GET/POST from a test: status, headers and body text. */
export async function get(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
