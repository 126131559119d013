/// <reference lib="dom" />
/**
 * Reading the dashboard API: polls a view every few seconds, keeps the last good answer while
 * the control plane is away (a restart) and retries by itself; a 401 asks for a token.
 */
import { useEffect, useState } from 'preact/hooks';

/** State of one polled view. */
export interface Polled<T> {
  data?: T;
  /** Set while the control plane cannot be reached (the last data stays shown). */
  error?: string;
  /** The API wants a token (off loopback). */
  unauthorized?: boolean;
}

/** Fetches `/ui/api/<path>` as JSON. */
export async function api<T>(path: string): Promise<{ status: number; body?: T }> {
  const res = await fetch(`api/${path}`, { credentials: 'same-origin', cache: 'no-store' });
  if (res.status === 401) return { status: 401 };
  const body = (await res.json()) as T;
  return { status: res.status, body };
}

/** Polls `path` every `everyMs` (and at once when `path` changes). */
export function usePolled<T>(path: string, everyMs = 3000): Polled<T> {
  const [state, setState] = useState<Polled<T>>({});
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState({});
    const tick = async (): Promise<void> => {
      try {
        const r = await api<T>(path);
        if (stop) return;
        if (r.status === 401) setState({ unauthorized: true });
        else if (r.status >= 500) setState((s) => ({ data: s.data, error: `the control plane answered ${r.status}` }));
        else setState({ data: r.body });
      } catch {
        if (!stop) setState((s) => ({ data: s.data, error: 'the control plane is not reachable; retrying every few seconds' }));
      }
      if (!stop) timer = setTimeout(tick, everyMs);
    };
    void tick();
    return () => { stop = true; if (timer) clearTimeout(timer); };
  }, [path, everyMs]);
  return state;
}

/** `1.23 rps` style numbers. */
export function fmt(n: number | undefined, digits = 1): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  if (n !== 0 && Math.abs(n) < 0.1) return n.toFixed(2);
  return n.toFixed(digits).replace(/\.0+$/, '');
}

/** A duration in ms, readable. */
export function ms(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  return n >= 1000 ? `${fmt(n / 1000, 2)} s` : `${fmt(n, n < 10 ? 1 : 0)} ms`;
}
