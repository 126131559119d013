import { readFileSync } from 'node:fs';
import { bowlineVersion } from '../../control/version.js';
import { CONTROL_PLANE_PUSH } from '../../platform/marathon/install.js';
import { inject, InjectError, type Json } from '../../platform/marathon/inject.js';
import { EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline marathon inject -f FILE|- [--explicit] [--server HOST:PORT] [--join-secret PATH]
                               [--service-account SA] [--service-label LABEL] [--image IMAGE]

Adds the Bowline proxy to a Marathon app, pod or group definition (JSON) and prints the result.
Offline: no control plane or Marathon is needed. Running it on its own output changes nothing.

  -f FILE|-            the definition (app, pod, or /v2/groups JSON); - reads stdin
  --explicit           keep apps as apps: the proxy starts beside the app's command and the app uses
                       HTTP_PROXY (no capture, no root); default: apps become pods with a proxy
                       container that sets up transparent capture (needs a container network)
  --server HOST:PORT   the control plane's TLS push address as tasks reach it
                       (default ${CONTROL_PLANE_PUSH}, the VIP \`bowline install marathon\` declares)
  --join-secret PATH   DC/OS secret with the join token (default bowline/join/NAMESPACE-SA; create the token
                       with \`bowline token create --reusable --max-uses N --ttl 720h ...\`)
  --service-account SA identity of the workloads (default: the bowline.io/service-account label, else the service name)
  --service-label L    label holding the service name (default istio)
  --image IMAGE        image of the proxy container (default bowline/bowline:VERSION)

Warnings about fields an app-to-pod conversion cannot carry go to stderr; the JSON goes to stdout.
`;

function readInput(file: string): string {
  try {
    return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    throw new InjectError(`cannot read ${file === '-' ? 'stdin' : file}: ${(err as Error).message}`);
  }
}

/** Runs `bowline marathon ...` with injectable output; resolves to the exit code. */
export async function runMarathon(args: string[], out: (s: string) => void = (s) => void process.stdout.write(s), err: (s: string) => void = (s) => void process.stderr.write(s)): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    file: { type: 'string', short: 'f' },
    explicit: { type: 'boolean', default: false },
    server: { type: 'string', default: CONTROL_PLANE_PUSH },
    'join-secret': { type: 'string' },
    'service-account': { type: 'string' },
    'service-label': { type: 'string', default: 'istio' },
    image: { type: 'string', default: `bowline/bowline:${bowlineVersion()}` },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) { out(usage); return EXIT_OK; }
  if (positionals[0] !== 'inject' || positionals.length > 1) throw new UsageError(positionals[0] ? `unknown subcommand "${positionals.join(' ')}": use \`bowline marathon inject -f FILE\`` : 'missing subcommand: bowline marathon inject -f FILE');
  if (!values.file) throw new UsageError('-f FILE (or - for stdin) is required');
  try {
    const text = readInput(values.file);
    let def: Json;
    try {
      def = JSON.parse(text) as Json;
    } catch (e) {
      throw new InjectError(`${values.file === '-' ? 'stdin' : values.file} is not JSON: ${(e as Error).message}`);
    }
    const r = inject(def, {
      server: values.server!, image: values.image!, explicit: values.explicit!, serviceLabel: values['service-label']!,
      ...(values['join-secret'] ? { joinSecret: values['join-secret'] } : {}),
      ...(values['service-account'] ? { serviceAccount: values['service-account'] } : {}),
    });
    for (const n of r.notes) err(`bowline marathon: warning: ${n}\n`);
    out(JSON.stringify(r.definition, null, 2) + '\n');
    return EXIT_OK;
  } catch (e) {
    if (e instanceof InjectError) { err(`bowline marathon: ${e.code}: ${e.message}\n`); return EXIT_INVALID; }
    throw e;
  }
}

/** `bowline marathon inject`: adds the proxy to Marathon JSON. */
export const command: Command = {
  name: 'marathon',
  summary: 'Add the Bowline proxy to Marathon app, pod or group JSON (offline)',
  run: (args) => runMarathon(args),
};
