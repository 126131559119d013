import { afterEach, describe, expect, it, vi } from 'vitest';
import { commands } from './commands.js';
import { main } from './main.js';

/** Runs main() in process and returns its exit code and what it wrote to stderr. */
async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; err: string }> {
  let err = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err += String(s); return true; });
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const code = await main(argv);
  return { code, err };
}

afterEach(() => { vi.restoreAllMocks(); vi.unstubAllEnvs(); });

describe('bowline main', () => {
  it('a flag without its value is a usage error (exit 2, one line, no stack trace)', async () => {
    for (const argv of [['proxy', '--config'], ['demo', '--port'], ['get', 'vs', '-n'], ['up', 'extra']]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(new RegExp(`^bowline ${argv[0]}: `));
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('register refuses a label that is not key=value before calling the control plane', async () => {
    const r = await run(['register', 'db', '10.0.0.1', '3306', '--labels', 'app=db,bad', '--server', 'http://127.0.0.1:1']);
    expect(r).toEqual({ code: 2, err: 'bowline register: BOWLINE_E_CLI_USAGE: --labels: "bad" is not key=value\n' });
  });

  it('an unreachable control plane is exit 1 with the code and what to do, for every client command', async () => {
    for (const argv of [['proxy-status'], ['proxy-config', 'x'], ['authn', 'check'], ['register', 'db', '10.0.0.1', '3306']]) {
      const r = await run([...argv, '--server', 'http://127.0.0.1:1']);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.err).toMatch(/BOWLINE_E_CLI_UNREACHABLE: cannot reach the control plane at http:\/\/127\.0\.0\.1:1 .*bowline up/);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('each command file agrees with its one-line registration (name, aliases, summary shown by --help)', async () => {
    for (const entry of commands) {
      const c = await entry.load();
      expect({ name: c.name, aliases: c.aliases ?? [], summary: c.summary }).toEqual({ name: entry.name, aliases: entry.aliases ?? [], summary: entry.summary });
    }
  });
});
