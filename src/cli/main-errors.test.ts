// Every error a command throws ends as one line `bowline CMD: CODE: message` and exit 1 (2 for
// usage errors), never a stack trace unless BOWLINE_DEBUG=1 (it used to escape to bin/bowline,
// which printed the whole stack for e.g. an unwritable ports file).
import { afterEach, describe, expect, it, vi } from 'vitest';

const thrown = vi.hoisted(() => ({ value: undefined as unknown }));
vi.mock('./commands.js', () => ({
  commands: [{ name: 'boom', summary: 'throws', load: async () => ({ name: 'boom', summary: 'throws', run: async () => { throw thrown.value; } }) }],
}));

const { main } = await import('./main.js');

async function run(value: unknown, env: Record<string, string> = {}): Promise<{ code: number; err: string }> {
  thrown.value = value;
  let err = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err += String(s); return true; });
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const code = await main(['boom']);
  return { code, err };
}

afterEach(() => { vi.restoreAllMocks(); vi.unstubAllEnvs(); });

describe('bowline main: errors from commands', () => {
  it('an error without a code is one line with BOWLINE_E_CLI_UNEXPECTED and exit 1', async () => {
    vi.stubEnv('BOWLINE_DEBUG', '');
    expect(await run(new Error('ports file /ro/ports.json not written: read-only file system'))).toEqual({ code: 1, err: 'bowline boom: BOWLINE_E_CLI_UNEXPECTED: ports file /ro/ports.json not written: read-only file system\n' });
  });

  it('a code is shown once: prefixed when the message does not name it', async () => {
    vi.stubEnv('BOWLINE_DEBUG', '');
    const coded = Object.assign(new Error('store unavailable'), { code: 'BOWLINE_E_STORE_UNAVAILABLE' });
    expect((await run(coded)).err).toBe('bowline boom: BOWLINE_E_STORE_UNAVAILABLE: store unavailable\n');
    const sys = Object.assign(new Error("EACCES: permission denied, open '/x'"), { code: 'EACCES' });
    expect((await run(sys)).err).toBe("bowline boom: EACCES: permission denied, open '/x'\n");
    expect(await run('a thrown string')).toEqual({ code: 1, err: 'bowline boom: BOWLINE_E_CLI_UNEXPECTED: a thrown string\n' });
  });

  it('prints the stack only with BOWLINE_DEBUG=1', async () => {
    const r = await run(new Error('disk on fire'), { BOWLINE_DEBUG: '1' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^bowline boom: BOWLINE_E_CLI_UNEXPECTED: disk on fire\nError: disk on fire\n\s+at /);
  });
});

describe('errorLine (shared by main and bowline up)', () => {
  it('prints a code once even when the message already starts with it', async () => {
    const { errorLine } = await import('./command.js');
    expect(errorLine(Object.assign(new Error('BOWLINE_E_STORE_CORRUPT: bad record'), { code: 'BOWLINE_E_STORE_CORRUPT' }))).toBe('BOWLINE_E_STORE_CORRUPT: bad record');
    expect(errorLine(Object.assign(new Error('cannot read --mesh-config x'), { code: 'BOWLINE_E_CONTROL_MESH_CONFIG' }))).toBe('BOWLINE_E_CONTROL_MESH_CONFIG: cannot read --mesh-config x');
  });
});
