import { spawn } from 'node:child_process';
import { resolveTarget } from '../client.js';
import { EXIT_OK, parseFlags, type Command } from '../command.js';

const usage = `Usage: bowline dashboard [--server URL] [--home DIR] [--no-browser]

Prints the URL of the control plane's web dashboard (/ui/, docs/dashboard.md) and opens it in a
browser when there is one (a desktop session: DISPLAY, WAYLAND_DISPLAY or macOS).
`;

/** A command that opens `url` in the desktop's browser, or undefined on a machine without one. */
function browserCommand(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (process.platform === 'darwin') return 'open';
  if (process.platform === 'win32') return undefined;
  return env.DISPLAY || env.WAYLAND_DISPLAY ? 'xdg-open' : undefined;
}

/** `bowline dashboard`: print (and open) the dashboard URL. */
export const command: Command = {
  name: 'dashboard',
  summary: 'Print the URL of the web dashboard (service graph, traffic, config, security, proxies) and open it',
  async run(args) {
    const { values } = parseFlags(args, { server: { type: 'string' }, home: { type: 'string' }, 'no-browser': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } }, { allowPositionals: false });
    if (values.help) { process.stdout.write(usage); return EXIT_OK; }
    const target = resolveTarget(values);
    const url = `${target.server}/ui/`;
    process.stdout.write(`${url}\n`);
    const open = values['no-browser'] ? undefined : browserCommand();
    if (open) {
      try {
        spawn(open, [url], { stdio: 'ignore', detached: true }).on('error', () => {}).unref();
      } catch {}
    }
    return EXIT_OK;
  },
};
