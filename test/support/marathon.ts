/**
 * A stand-in Marathon for tests (Marathon needs Mesos and ZooKeeper, which cannot run here).
 * It replays the documented behaviour of Marathon's v2 REST API (mesosphere/marathon
 * docs/docs/rest-api/public/api/v2: apps.raml, pods.raml, events.raml and their types) for what
 * a service registry reads:
 * - `GET /v2/apps[?embed=apps.tasks]` -> `{apps: [...]}` (tasks only when embedded);
 * - `GET /v2/apps/{id}[?embed=app.tasks]` -> `{app}`, or 404 `{"message": "App '/x' does not exist"}`;
 * - `GET /v2/pods/::status` -> `[PodStatus]`; `GET /v2/pods/{id}::status` -> `PodStatus` or 404;
 * - `GET /v2/events` -> `text/event-stream` (405 without that Accept header), starting with
 *   `event_stream_attached`; events are whatever the test emits, in the order (and as many times)
 *   it emits them: Marathon does not order its events, and tests exercise exactly that;
 * - DC/OS authentication: with a token set, requests without `Authorization: token=TOKEN` get
 *   401 (what adminrouter answers), and `failWith(503)` makes every call fail as a Marathon
 *   without a leader does.
 * The workloads it reports are real processes the test started; it only holds their addresses.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MarathonApp, MarathonEvent, MarathonPodStatus, MarathonTask } from '../../src/registry/marathon/types.js';

/** A stand-in Marathon on loopback. */
export class FakeMarathon {
  readonly apps = new Map<string, MarathonApp>();
  readonly pods = new Map<string, MarathonPodStatus>();
  /** When set, every request must carry `Authorization: token=<token>`. */
  token: string | undefined;
  /** Requests seen, by path (tests assert on re-reads). */
  readonly requests: string[] = [];
  private failing: number | undefined;
  private streams = new Set<ServerResponse>();
  private server: Server | undefined;
  url = '';

  /** Starts listening on 127.0.0.1 (a kernel-chosen port). */
  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Closes event streams and the listener. */
  async stop(): Promise<void> {
    this.dropStreams();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** Every call fails with this status (503: no leader) until `failWith(undefined)`. Open streams are cut. */
  failWith(status: number | undefined): void {
    this.failing = status;
    if (status !== undefined) this.dropStreams();
  }

  /** Ends every open event stream (a Marathon failover or a proxy timeout). */
  dropStreams(): void {
    for (const s of this.streams) s.destroy();
    this.streams.clear();
  }

  /** Number of open event streams. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Sends one event to every open stream. */
  emit(e: MarathonEvent): void {
    const type = e.eventType ?? 'unknown';
    const line = `event: ${type}\ndata: ${JSON.stringify({ ...e, eventType: type, timestamp: new Date().toISOString() })}\n\n`;
    for (const s of this.streams) s.write(line);
  }

  /** The events Marathon sends when a task of `appId` changes state (`TASK_RUNNING`, `TASK_KILLED`, ...). */
  statusUpdate(appId: string, task: MarathonTask, taskStatus: string): MarathonEvent {
    return { eventType: 'status_update_event', appId, taskId: task.id, taskStatus, host: task.host, ports: task.ports ?? [], slaveId: 'agent-1', version: '2026-12-01T00:00:00.000Z', message: '' };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://marathon.invalid');
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    if (this.token !== undefined && req.headers.authorization !== `token=${this.token}`) {
      return send(401, { title: 'Unauthorized', description: 'Authentication token is missing or invalid.' }, { 'www-authenticate': 'acsjwt' });
    }
    if (this.failing !== undefined) return send(this.failing, { message: 'Could not determine the current leader' });
    if (req.method !== 'GET') return send(405, { message: 'only GET is replayed by this stand-in' });
    const path = url.pathname;
    if (path === '/v2/events') {
      if (!(req.headers.accept ?? '').includes('text/event-stream')) return void res.writeHead(405, { 'content-type': 'text/html' }).end('<html><body><h2>HTTP ERROR: 405</h2></body></html>');
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(`event: event_stream_attached\ndata: ${JSON.stringify({ remoteAddress: req.socket.remoteAddress, eventType: 'event_stream_attached', timestamp: new Date().toISOString() })}\n\n`);
      this.streams.add(res);
      res.on('close', () => this.streams.delete(res));
      return;
    }
    const embedTasks = url.searchParams.getAll('embed').some((e) => e === 'apps.tasks' || e === 'app.tasks');
    const withTasks = (a: MarathonApp): MarathonApp => {
      const { tasks, ...rest } = a;
      return embedTasks ? { ...rest, tasks: tasks ?? [] } : rest;
    };
    if (path === '/v2/apps' || path === '/v2/apps/') return send(200, { apps: [...this.apps.values()].map(withTasks) });
    if (path === '/v2/pods/::status') return send(200, [...this.pods.values()]);
    const podStatus = /^\/v2\/pods(\/.+)::status$/.exec(path);
    if (podStatus) {
      const id = decodeURIComponent(podStatus[1]!);
      const p = this.pods.get(id);
      return p ? send(200, p) : send(404, { message: `Pod '${id}' does not exist` });
    }
    const app = /^\/v2\/apps(\/.+)$/.exec(path);
    if (app) {
      const id = decodeURIComponent(app[1]!).replace(/\/+$/, '');
      const a = this.apps.get(id);
      return a ? send(200, { app: withTasks(a) }) : send(404, { message: `App '${id}' does not exist` });
    }
    send(404, { message: `no replayed route for ${path}` });
  }
}
