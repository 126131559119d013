import type { Command } from './command.js';

/**
 * Every CLI command, loaded lazily so `bowline version` does not pay for the proxy or the
 * control plane. To add a command: one file in commands/ exporting `command`, one line here.
 */
export const commands: Array<{ name: string; aliases?: string[]; summary: string; load: () => Promise<Command> }> = [
  { name: 'demo', summary: 'Run Bookinfo, httpbin and sleep with sidecars and a gateway on localhost:8080', load: async () => (await import('./commands/demo.js')).command },
  { name: 'validate', summary: 'Check Istio YAML/JSON files: every violation with file:line:col, code and field path', load: async () => (await import('./commands/validate.js')).command },
  { name: 'version', summary: 'Print the Bowline version', load: async () => (await import('./commands/version.js')).command },
];
