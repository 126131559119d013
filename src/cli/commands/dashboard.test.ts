import { afterEach, describe, expect, it, vi } from 'vitest';
import { command } from './dashboard.js';

afterEach(() => vi.restoreAllMocks());

describe('bowline dashboard', () => {
  it('prints the /ui/ URL of the control plane it would talk to', async () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out.push(String(s)); return true; });
    expect(await command.run(['--server', 'http://10.0.0.5:15014/', '--no-browser'])).toBe(0);
    expect(out.join('')).toBe('http://10.0.0.5:15014/ui/\n');
  });
});
