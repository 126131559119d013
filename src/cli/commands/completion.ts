import { commands } from '../commands.js';
import { ApiClient, resolveTarget } from '../client.js';
import { EXIT_OK, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline completion bash|zsh|fish

Prints a shell completion script (as kubectl completion does). Completes commands, their
subcommands and flags (read from the command table and each command's --help), kinds after
get/describe/delete, and names from the running control plane: resources of that kind, namespaces
after -n, workloads after explain --from, proxies after proxy-config/proxy-status.

  bash:  source <(bowline completion bash)        # or write it to /etc/bash_completion.d/bowline
  zsh:   source <(bowline completion zsh)         # after compinit
  fish:  bowline completion fish | source         # or > ~/.config/fish/completions/bowline.fish
`;

/** First line of the candidates that asks the shell to complete file names instead. */
export const FILES_DIRECTIVE = ':files';

const SHELLS = ['bash', 'zsh', 'fish'] as const;

/** The completion script for `shell`: each calls `bowline completion __complete WORDS...` with the words typed so far. */
export function completionScript(shell: (typeof SHELLS)[number]): string {
  switch (shell) {
    case 'bash':
      return `# bash completion for bowline (bowline completion bash)
_bowline() {
  local cur=\${COMP_WORDS[COMP_CWORD]} out IFS=$'\\n'
  out=$(bowline completion __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
  if [[ $out == ${FILES_DIRECTIVE}* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$out" -- "$cur"))
  fi
}
complete -o default -F _bowline bowline
`;
    case 'zsh':
      return `#compdef bowline
# zsh completion for bowline (bowline completion zsh)
_bowline() {
  local out
  out=$(bowline completion __complete "\${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
  if [[ $out == ${FILES_DIRECTIVE}* ]]; then
    _files
    return
  fi
  local -a cands
  cands=("\${(@f)out}")
  compadd -- $cands
}
compdef _bowline bowline
`;
    case 'fish':
      return `# fish completion for bowline (bowline completion fish)
function __bowline_complete
  set -l args (commandline -opc) (commandline -ct)
  set -e args[1]
  set -l out (bowline completion __complete $args 2>/dev/null)
  if test "$out[1]" = "${FILES_DIRECTIVE}"
    __fish_complete_path (commandline -ct)
  else
    printf '%s\\n' $out
  end
end
complete -c bowline -f -a '(__bowline_complete)'
`;
  }
}

/** The --help text of a command, captured (commands print it to stdout). */
async function helpOf(name: string): Promise<string> {
  const entry = commands.find((c) => c.name === name || c.aliases?.includes(name));
  if (!entry) return '';
  const write = process.stdout.write;
  let text = '';
  process.stdout.write = ((chunk: string | Uint8Array) => { text += String(chunk); return true; }) as typeof process.stdout.write;
  try {
    await (await entry.load()).run(['--help']);
  } catch {
  } finally {
    process.stdout.write = write;
  }
  return text;
}

/** Flags (`--name`, `-x`) a help text mentions. */
export function flagsIn(help: string): string[] {
  const out = new Set<string>();
  for (const m of help.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])/g)) out.add(m[1]!);
  return [...out].sort();
}

/** Subcommand words a help text shows right after `bowline NAME` (`ca root|intermediate`, `authn check`). */
export function subcommandsIn(help: string, name: string): string[] {
  const out = new Set<string>();
  for (const m of help.matchAll(new RegExp(`bowline ${name} ([a-z][a-z-]*(?:\\|[a-z][a-z-]*)*)`, 'g'))) for (const w of m[1]!.split('|')) out.add(w);
  return [...out];
}

/** Positional choices of the usage lines (`listeners|routes|...`), not a flag's values (`-o table|json`). */
export function choicesIn(help: string): string[] {
  const out = new Set<string>();
  for (const line of help.split('\n').filter((l) => l.startsWith('Usage:'))) {
    for (const m of line.matchAll(/(\S+) ([a-z][a-z-]*(?:\|[a-z][a-z-]*)+)/g)) {
      if (m[1]!.replace(/^\[/, '').startsWith('-') || m[1] === 'bowline') continue;
      for (const w of m[2]!.split('|')) out.add(w);
    }
  }
  return [...out];
}

/** Names from the running control plane, or none when it does not answer (completion never fails loudly). */
async function live(path: string, pick: (body: any) => string[]): Promise<string[]> {
  try {
    const r = await new ApiClient(resolveTarget({}), 1500).call('GET', path);
    return r.status === 200 ? pick(r.body) : [];
  } catch {
    return [];
  }
}

const VALUE_FLAGS = new Set(['-n', '--namespace', '-o', '--output', '--server', '--home', '-f', '--filename', '--from', '-X', '--request', '-H', '--header']);
const KIND_COMMANDS = new Set(['get', 'describe', 'delete']);

/** Candidates for the last word of `words` (the words after `bowline`, the last one being typed). */
export async function complete(words: string[]): Promise<string[]> {
  const cur = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  if (before.length === 0) return [...commands.flatMap((c) => [c.name, ...(c.aliases ?? [])]), '--help'];
  const cmd = before[0]!;
  const prev = before.at(-1)!;
  const { collectionPath, resolveKind, servedKinds } = await import('../../control/kinds.js');
  if (prev === '-f' || prev === '--filename' || prev === '--home' || prev === '--config' || prev.endsWith('-file')) return [FILES_DIRECTIVE];
  if (prev === '-n' || prev === '--namespace') return live('/api/v1/namespaces', (b) => (b.items ?? []).map((i: { metadata: { name: string } }) => i.metadata.name));
  if (prev === '--from') return live('/debug/registryz', (b) => (b.workloads ?? []).map((w: { name: string; namespace: string }) => `${w.name}.${w.namespace}`));
  if (prev === '-o' || prev === '--output') return ['text', 'table', 'json', 'yaml', 'wide', 'name'];
  if (cmd === 'completion') return before.length === 1 ? [...SHELLS] : [];
  const help = await helpOf(cmd);
  if (cur.startsWith('-')) return [...new Set([...flagsIn(help), '--help'])];
  const positionals = before.slice(1).filter((w, i, all) => !w.startsWith('-') && !VALUE_FLAGS.has(all[i - 1] ?? ''));
  if (KIND_COMMANDS.has(cmd)) {
    if (positionals.length === 0) return servedKinds.flatMap((k) => [k.singular, k.plural, ...k.shortNames]);
    const kind = resolveKind(positionals[0]!);
    if (!kind) return [];
    const nsIdx = before.findIndex((w) => w === '-n' || w === '--namespace');
    const ns = nsIdx >= 0 ? before[nsIdx + 1] : undefined;
    const all = before.includes('-A') || before.includes('--all-namespaces');
    return live(collectionPath(kind, kind.namespaced && !all ? ns ?? 'default' : undefined), (b) => (b.items ?? []).map((i: { metadata: { name: string } }) => i.metadata.name));
  }
  if ((cmd === 'proxy-config' || cmd === 'proxy-status') && positionals.length === 0) return live('/debug/syncz', (b) => (b.proxies ?? []).map((p: { id: string }) => p.id));
  if (positionals.length === 0) return subcommandsIn(help, cmd);
  return choicesIn(help).filter((w) => !positionals.includes(w));
}

/** `bowline completion bash|zsh|fish`, and the `__complete` helper the scripts call. */
export const command: Command = {
  name: 'completion',
  summary: 'Print a bash, zsh or fish completion script (commands, flags, kinds, names from the live server)',
  async run(args) {
    if (args[0] === '__complete') {
      process.stdout.write((await complete(args.slice(1))).join('\n') + '\n');
      return EXIT_OK;
    }
    if (args[0] === '-h' || args[0] === '--help') { process.stdout.write(usage); return EXIT_OK; }
    const shell = args[0] as (typeof SHELLS)[number];
    if (args.length !== 1 || !SHELLS.includes(shell)) throw new UsageError(`give one shell: bash, zsh or fish (see bowline completion --help)`);
    process.stdout.write(completionScript(shell));
    return EXIT_OK;
  },
};
