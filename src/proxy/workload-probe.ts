/**
 * The WorkloadGroup `probe` a VM's proxy runs for its app (`bowline proxy --probe-file`, written
 * by `bowline join` from the bundle), as Istio's agent does: httpGet (2xx/3xx passes), tcpSocket
 * (a connection passes) or exec (exit 0 passes), against 127.0.0.1 unless the probe names a host,
 * every `periodSeconds` (default 10) after `initialDelaySeconds`, each with `timeoutSeconds`
 * (default 1). The workload turns healthy after `successThreshold` passes in a row (default 1) and
 * unhealthy after `failureThreshold` failures in a row (default 3); each change is reported (the
 * proxy sends it to the control plane as `health`). Until the first change it is neither.
 */
import { spawn } from 'node:child_process';
import { runProber, type AppProber } from './health.js';

/** A WorkloadGroup probe (Istio's ReadinessProbe), as written to the probe file. */
export interface WorkloadProbe {
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  httpGet?: { path?: string; port: number; host?: string; scheme?: string; httpHeaders?: Array<{ name: string; value: string }> };
  tcpSocket?: { port: number; host?: string };
  exec?: { command: string[] };
}

/** Checks a probe file's content; throws with what is wrong (the proxy refuses to start with it). */
export function parseWorkloadProbe(text: string, where = '--probe-file'): WorkloadProbe {
  let v: unknown;
  try { v = JSON.parse(text); } catch (err) { throw new Error(`${where} is not JSON: ${(err as Error).message}`); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where} must be a JSON object (a WorkloadGroup's spec.probe)`);
  const p = v as Record<string, unknown>;
  const kinds = ['httpGet', 'tcpSocket', 'exec', 'grpc'].filter((k) => p[k] !== undefined);
  if (kinds.length !== 1) throw new Error(`${where}: exactly one of httpGet, tcpSocket, exec is needed, got ${kinds.length ? kinds.join(', ') : 'none'}`);
  if (kinds[0] === 'grpc') throw new Error(`${where}: grpc probes are not run by Bowline's proxy; use httpGet, tcpSocket or exec`);
  for (const k of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    if (p[k] !== undefined && (!Number.isInteger(p[k]) || (p[k] as number) < 0)) throw new Error(`${where}: ${k} must be a whole number >= 0, got ${JSON.stringify(p[k])}`);
  }
  const port = (p.httpGet as { port?: unknown } | undefined)?.port ?? (p.tcpSocket as { port?: unknown } | undefined)?.port;
  if (kinds[0] !== 'exec' && (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)) throw new Error(`${where}: ${kinds[0]}.port must be a port number (1-65535)`);
  const cmd = (p.exec as { command?: unknown } | undefined)?.command;
  if (kinds[0] === 'exec' && (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((c) => typeof c === 'string'))) throw new Error(`${where}: exec.command must be a non-empty list of strings`);
  return p as WorkloadProbe;
}

/** Runs the probe once; resolves to undefined when it passed, else why it failed. */
export function runWorkloadProbe(p: WorkloadProbe): Promise<string | undefined> {
  const timeoutMs = Math.max(1, p.timeoutSeconds || 1) * 1000;
  if (!p.exec) return runProber({ ...(p.httpGet ? { httpGet: p.httpGet } : {}), ...(p.tcpSocket ? { tcpSocket: p.tcpSocket } : {}), timeoutSeconds: timeoutMs / 1000 } as AppProber);
  const [cmd, ...args] = p.exec.command;
  return new Promise((resolve) => {
    const child = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { if (err.length < 500) err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); resolve(`exec ${cmd}: ${e.message}`); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(undefined);
      else resolve(`exec ${p.exec!.command.join(' ')}: ${signal === 'SIGKILL' ? `no exit within ${timeoutMs} ms` : `exit ${code ?? signal}`}${err.trim() ? `: ${err.trim().split('\n')[0]}` : ''}`);
    });
  });
}

/** Timers and the probe runner (tests inject their own). */
export interface ProberDeps {
  run?: (p: WorkloadProbe) => Promise<string | undefined>;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (h: unknown) => void;
}

/** Runs a probe on its period and reports each change of health. */
export class WorkloadProber {
  private passes = 0;
  private failures = 0;
  private timer: unknown;
  private stopped = false;
  /** The current health: undefined until the first threshold is reached. */
  healthy?: boolean;

  constructor(private readonly probe: WorkloadProbe, private readonly onChange: (healthy: boolean, message?: string) => void, private readonly deps: ProberDeps = {}) {}

  /** Starts probing after `initialDelaySeconds`. */
  start(): void {
    this.schedule((this.probe.initialDelaySeconds ?? 0) * 1000);
  }

  /** Stops probing. */
  stop(): void {
    this.stopped = true;
    (this.deps.clearTimeout ?? ((h) => clearTimeout(h as NodeJS.Timeout)))(this.timer);
  }

  /** One probe and its effect on the counters (what the timer runs). */
  async tick(): Promise<void> {
    const why = await (this.deps.run ?? runWorkloadProbe)(this.probe);
    if (this.stopped) return;
    if (why === undefined) {
      this.failures = 0;
      this.passes++;
      if (this.healthy !== true && this.passes >= Math.max(1, this.probe.successThreshold || 1)) this.set(true);
    } else {
      this.passes = 0;
      this.failures++;
      if (this.healthy !== false && this.failures >= Math.max(1, this.probe.failureThreshold || 3)) this.set(false, why);
    }
  }

  private set(healthy: boolean, message?: string): void {
    this.healthy = healthy;
    this.onChange(healthy, message);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    const st = this.deps.setTimeout ?? ((fn: () => void, t: number) => { const h = setTimeout(fn, t); h.unref(); return h; });
    this.timer = st(() => {
      void this.tick().finally(() => this.schedule(Math.max(1, this.probe.periodSeconds || 10) * 1000));
    }, ms);
  }
}
