// `bowline completion`: candidates from the command table and each command's help, and scripts
// that each shell present on the machine accepts (bash always; zsh and fish when installed).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { choicesIn, complete, completionScript, FILES_DIRECTIVE, flagsIn, subcommandsIn } from './completion.js';

describe('bowline completion candidates', () => {
  it('commands (with aliases) for the first word', async () => {
    const c = await complete(['']);
    for (const name of ['apply', 'get', 'explain', 'analyze', 'completion', 'control']) expect(c).toContain(name);
  });

  it('flags from the command\'s --help, subcommands and positional choices from its usage', async () => {
    expect(await complete(['explain', '-'])).toEqual(expect.arrayContaining(['--from', '-H', '-X', '-o', '--help']));
    expect(await complete(['analyze', '--'])).toEqual(expect.arrayContaining(['--live', '--all-namespaces', '-A']));
    expect(await complete(['completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(await complete(['authn', ''])).toEqual(['check']);
    expect(await complete(['proxy-config', 'productpage', ''])).toEqual(['listeners', 'routes', 'clusters', 'endpoints', 'secrets', 'all']);
  });

  it('kinds after get/describe/delete; files after -f; output formats after -o', async () => {
    const kinds = await complete(['get', '']);
    for (const k of ['virtualservice', 'vs', 'destinationrules', 'peerauthentication', 'namespace']) expect(kinds).toContain(k);
    expect(await complete(['apply', '-f', ''])).toEqual([FILES_DIRECTIVE]);
    expect(await complete(['get', 'vs', '-o', ''])).toContain('yaml');
  });

  it('parses help texts', () => {
    expect(flagsIn('  -n, --namespace NS   x\n  --dry-run  y\n  see bowline-x and e-mail')).toEqual(['--dry-run', '--namespace', '-n']);
    expect(subcommandsIn('Usage: bowline ca root|intermediate [flags]\n       bowline ca check', 'ca')).toEqual(['root', 'intermediate', 'check']);
    expect(choicesIn('Usage: bowline proxy-config PROXY listeners|routes [-o table|json]')).toEqual(['listeners', 'routes']);
  });

  it('scripts the shells accept', () => {
    for (const shell of ['bash', 'zsh', 'fish'] as const) {
      const bin = `/usr/bin/${shell}`;
      const script = completionScript(shell);
      expect(script).toContain('bowline completion __complete');
      if (existsSync(bin)) execFileSync(bin, shell === 'fish' ? ['--no-execute', '-c', script] : ['-n', '-c', script]);
    }
  });
});
