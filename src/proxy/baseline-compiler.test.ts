import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Each case runs in a child process: V8 flags are process-wide and must not leak into the test workers.
// `--no-baseline-batch-compilation`: Sparkplug compiles a function at its tier-up check, not in a batch later;
// %NeverOptimizeFunction: the functions stay below TurboFan, so their tier is the interpreter or Sparkplug.
const script = (args: string): string => `
  const { releaseBaselineCompiler } = await import(${JSON.stringify(new URL('./baseline-compiler.ts', import.meta.url).pathname)});
  const never = new Function('f', '%NeverOptimizeFunction(f)');
  const tier = new Function('f', 'return %ActiveTierIsSparkplug(f)');
  const warm = (f) => { for (let i = 0; i < 300; i++) f(10); return tier(f); };
  const sum = (n) => { let s = 0; for (let i = 0; i < n; i++) s += i; return s; };
  const other = (n) => { let s = 1; for (let i = 0; i < n; i++) s *= 2; return s; };
  never(sum);
  never(other);
  const before = warm(sum);
  const released = releaseBaselineCompiler(${args});
  const again = releaseBaselineCompiler(${args});
  console.log(JSON.stringify({ before, released, again, after: warm(sum), fresh: warm(other) }));`;

interface Run { before: boolean; released: boolean; again: boolean; after: boolean; fresh: boolean }
function run(nodeArgs: string[], args = ''): Run {
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-baseline-batch-compilation', ...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', script(args)], { encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Run;
}

describe('releaseBaselineCompiler', () => {
  it('turns Sparkplug on after a start-up without it (PROXY_NODE_FLAGS), for functions start-up ran too, once', () => {
    expect(run(['--no-sparkplug'])).toEqual({ before: false, released: true, again: false, after: true, fresh: true });
  });

  it('does nothing when node started with Sparkplug, or was told to use it always', () => {
    expect(run([])).toMatchObject({ before: true, released: false, after: true });
    expect(run(['--no-sparkplug'], '[\'--no-sparkplug\', \'--always-sparkplug\'], \'\'').released).toBe(false);
    expect(run([], '[], \'--no-sparkplug\'').released).toBe(true); // NODE_OPTIONS counts like the command line
  });
});
