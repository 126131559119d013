// The demo's progress lines: one per step, with a check mark (or a cross) and its duration.

/** Prints steps as `✔ starting details (0.2 s)`; injectable output and clock for tests. */
export class Progress {
  constructor(
    private readonly write: (s: string) => void = (s) => process.stdout.write(s),
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Runs `fn` as a step named `what`; prints its outcome and duration, and rethrows its error. */
  async step<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const t0 = this.now();
    try {
      const v = await fn();
      this.write(`  \u2714 ${what} (${seconds(this.now() - t0)})\n`);
      return v;
    } catch (err) {
      this.write(`  \u2718 ${what} (${seconds(this.now() - t0)})\n`);
      throw err;
    }
  }

  /** Prints a plain line. */
  line(s = ''): void {
    this.write(s + '\n');
  }
}

/** A duration for people: `0.25 s`, `12.3 s`. */
export function seconds(ms: number): string {
  const s = ms / 1000;
  return `${s < 1 ? s.toFixed(2) : s.toFixed(1)} s`;
}
