/**
 * One watch of one collection, kept open: resumed from the last resourceVersion seen (bookmarks
 * keep it fresh) when the apiserver ends it or the connection drops, with a backoff; a
 * resourceVersion the apiserver no longer holds (410 Gone) ends it with `Expired`.
 */
import { StoreError } from '../store.js';
import type { KubeRest, KubeWatchEvent } from './rest.js';

/** What a follow reports. */
export interface FollowHandlers {
  onEvent(ev: { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: Record<string, any>; revision: number }): void;
  onError(err: StoreError): void;
}

/** Follows `path` (a collection) with `labelSelector`, from `fromRevision`. */
export class Follow {
  private rv: string;
  private closed = false;
  private current: { close(): void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delay = 100;

  constructor(private readonly rest: KubeRest, private readonly path: string, private readonly labelSelector: string | undefined, fromRevision: number, private readonly h: FollowHandlers) {
    this.rv = String(fromRevision);
    void this.open();
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    const q = new URLSearchParams({ watch: '1', allowWatchBookmarks: 'true', resourceVersion: this.rv, timeoutSeconds: String(240 + Math.floor(Math.random() * 120)) });
    if (this.labelSelector) q.set('labelSelector', this.labelSelector);
    try {
      const w = await this.rest.watch(`${this.path}?${q}`, (ev) => this.event(ev), (err) => {
        this.current = undefined;
        if (this.closed) return;
        if (err?.status === 410) return this.expire(err.message);
        if (err) return this.retry();
        this.delay = 100;
        void this.open();
      });
      if (this.closed) w.close();
      else this.current = w;
    } catch {
      this.retry();
    }
  }

  private event(ev: KubeWatchEvent): void {
    if (this.closed) return;
    const rv = ev.object?.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') {
      if (rv) this.rv = rv;
      return;
    }
    if (ev.type === 'ERROR') {
      this.current?.close();
      this.current = undefined;
      if (ev.object?.code === 410) return this.expire(String(ev.object?.message ?? 'resourceVersion too old'));
      return this.retry();
    }
    if (rv) this.rv = rv;
    this.delay = 100;
    this.h.onEvent({ type: ev.type, object: ev.object, revision: Number(rv) });
  }

  private expire(message: string): void {
    this.closed = true;
    this.h.onError(new StoreError('Expired', `watch of ${this.path} from revision ${this.rv}: ${message}`));
  }

  private retry(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.open(), this.delay);
    this.delay = Math.min(this.delay * 2, 5000);
  }

  /** Stops the watch. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.current?.close();
  }
}
