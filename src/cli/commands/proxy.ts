import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EXIT_INVALID, UsageError, type Command } from '../command.js';
import { readConfigFile, watchConfigFile } from '../../proxy/config-file.js';
import { startProxy, type RunningProxy } from '../../proxy/proxy.js';

const USAGE = `Usage: bowline proxy --config FILE [--admin-port N] [--admin-address A] [--ports-file F] [--drain-ms N]

Runs the Bowline proxy from a proxy configuration file (JSON or YAML, docs/proxy-config.md).
The file is re-read when it changes and on SIGHUP; an invalid file is refused and the running
config stays. SIGTERM/SIGINT or POST /quitquitquit on the admin port drain and exit.

  --config FILE         proxy configuration
  --admin-port N        admin listener port (default 15000; 0 = ephemeral)
  --admin-address A     admin bind address (default 127.0.0.1)
  --ports-file F        write the chosen ports as JSON {"admin":N,"listeners":{"name":N}}
  --drain-ms N          how long a drain waits for in-flight requests (default 5000)
`;

/** Flag definitions, kept apart so bootstrap flags (--server, --name, --service) can be added beside them. */
export const proxyFlags = {
  config: { type: 'string' },
  'admin-port': { type: 'string' },
  'admin-address': { type: 'string' },
  'ports-file': { type: 'string' },
  'drain-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function intFlag(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535 * 1000) throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

/** `bowline proxy`: the data plane from a config file, with reload, ports file and graceful drain. */
export const command: Command = {
  name: 'proxy',
  summary: 'Run the Bowline proxy (data plane) from a proxy config file',
  async run(args) {
    const { values } = parseArgs({ args, options: proxyFlags, strict: true });
    if (values.help) { process.stdout.write(USAGE); return 0; }
    if (!values.config) throw new UsageError('--config FILE is required\n' + USAGE);
    const file = values.config;
    const drainMs = intFlag(values['drain-ms'], 'drain-ms', 5000);
    let proxy: RunningProxy;
    try {
      const config = readConfigFile(file) as Parameters<typeof startProxy>[0]['config'];
      proxy = await startProxy({
        config,
        adminPort: intFlag(values['admin-port'], 'admin-port', 15000),
        adminAddress: values['admin-address'] ?? '127.0.0.1',
        drainMs,
        onQuit: () => process.exit(0),
      });
    } catch (err) {
      process.stderr.write(`bowline proxy: ${(err as Error).message}\n`);
      return EXIT_INVALID;
    }
    const writePorts = (): void => {
      if (values['ports-file']) writeFileSync(values['ports-file'], JSON.stringify(proxy.ports) + '\n');
    };
    writePorts();
    process.stderr.write(`bowline proxy: running config ${proxy.current.version || '(unversioned)'}; admin 127.0.0.1:${proxy.ports.admin}; listeners ${JSON.stringify(proxy.ports.listeners)}\n`);
    const reload = (why: string): void => {
      let cfg: unknown;
      try { cfg = readConfigFile(file); } catch (err) {
        process.stderr.write(`bowline proxy: config not reloaded (${why}): ${(err as Error).message}\n`);
        return;
      }
      proxy.applyConfig(cfg).then(() => {
        writePorts();
        process.stderr.write(`bowline proxy: config ${proxy.current.version || '(unversioned)'} applied (${why})\n`);
      }, (err: Error) => process.stderr.write(`bowline proxy: config not applied (${why}), running config kept: ${err.message}\n`));
    };
    watchConfigFile(file, () => reload('file changed'));
    process.on('SIGHUP', () => reload('SIGHUP'));
    const stop = (): void => { proxy.drain(drainMs).then(() => process.exit(0), () => process.exit(0)); };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    return new Promise<number>(() => {}); // runs until drained
  },
};
