/**
 * Polls `check` until it returns a truthy value (or resolves to one), or fails after `timeoutMs`.
 * `what` names the condition in the failure; as a function it is read at the failure (a child's
 * output then, not when the wait began).
 */
export async function waitFor<T>(check: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number; what?: string | (() => string) } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const what = typeof opts.what === 'function' ? opts.what() : opts.what;
      throw new Error(`timed out waiting for ${what ?? 'condition'}${lastErr ? `: ${String(lastErr)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

/** Anything that keeps a process's output: a `Child`, a kubelet, a kube cluster. */
export interface HasOutput {
  output(): string;
}

/**
 * Waits until `source`'s output contains `pattern` (a string, or a RegExp tested against the whole
 * output) and returns the match. A line a process prints reaches the test through a pipe, so it can
 * arrive after an effect the test saw elsewhere (an HTTP answer, a watch event): assert on it by
 * waiting for it, never by reading the output at once. The failure names `what` and shows the
 * output's tail.
 */
export async function waitForOutput(source: HasOutput, pattern: string | RegExp, opts: { timeoutMs?: number; what?: string; since?: number } = {}): Promise<string> {
  const find = () => {
    const out = source.output().slice(opts.since ?? 0);
    if (typeof pattern === 'string') return out.includes(pattern) ? pattern : undefined;
    return pattern.exec(out)?.[0];
  };
  return (await waitFor(find, { timeoutMs: opts.timeoutMs ?? 10_000, what: () => `${opts.what ?? `output matching ${String(pattern)}`}; output so far (tail):\n${source.output().slice(-3000)}` }))!;
}
