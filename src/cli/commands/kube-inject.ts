import { readFileSync } from 'node:fs';
import { bowlineVersion } from '../../control/version.js';
import { InjectError } from '../../platform/kubernetes/inject.js';
import { CONTROL_PLANE_PUSH_ADDRESS } from '../../platform/kubernetes/names.js';
import { injectStream } from '../../platform/kubernetes/workloads.js';
import { EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline kube-inject -f FILE|- [--server HOST:PORT] [--image IMAGE] [--join-secret NAME]
                          [--native-sidecar] [-o FILE]

Adds the Bowline sidecar to every pod template of Kubernetes YAML/JSON and prints the result, offline
(as \`istioctl kube-inject\`): Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs
and Lists. Other documents pass through. Running it on its own output prints the same bytes; a pod
that already has a sidecar, or says sidecar.istio.io/inject: "false", is left as is.

  kubectl apply -f <(bowline kube-inject -f bookinfo.yaml)

Each proxy gets its first certificate with a reusable join token read from a Secret in the pod's
namespace (default bowline-join-SERVICEACCOUNT, key "token"); create one per service account:
  kubectl create secret generic bowline-join-SA --from-literal=token="$(bowline token create \\
      --namespace NS --service-account SA --max-uses 100 --ttl 720h)"
(The injection webhook needs none of this: it mints a single-use token for each pod.)

  -f FILE|-            the manifests; - reads stdin
  -o FILE              write the result to FILE instead of stdout
  --server HOST:PORT   the control plane's TLS push address as pods reach it
                       (default ${CONTROL_PLANE_PUSH_ADDRESS})
  --image IMAGE        image of the init and proxy containers (default bowline/bowline:VERSION)
  --join-secret NAME   one Secret for every pod instead of bowline-join-SERVICEACCOUNT
  --native-sidecar     the proxy as an init container with restartPolicy Always (Kubernetes 1.29+)
`;

/** Runs `bowline kube-inject` with injectable input and output; resolves to the exit code. */
export async function runKubeInject(args: string[], io: { out?: (s: string) => void; err?: (s: string) => void; stdin?: () => string } = {}): Promise<number> {
  const out = io.out ?? ((s: string) => void process.stdout.write(s));
  const err = io.err ?? ((s: string) => void process.stderr.write(s));
  const { values, positionals } = parseFlags(args, {
    file: { type: 'string', short: 'f' },
    output: { type: 'string', short: 'o' },
    server: { type: 'string', default: CONTROL_PLANE_PUSH_ADDRESS },
    image: { type: 'string', default: `bowline/bowline:${bowlineVersion()}` },
    'join-secret': { type: 'string' },
    'native-sidecar': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) { out(usage); return EXIT_OK; }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}": bowline kube-inject -f FILE`);
  if (!values.file) throw new UsageError('-f FILE (or - for stdin) is required');
  const source = values.file === '-' ? 'stdin' : values.file;
  try {
    let text: string;
    try {
      text = values.file === '-' ? (io.stdin ?? (() => readFileSync(0, 'utf8')))() : readFileSync(values.file, 'utf8');
    } catch (e) {
      throw new InjectError(`cannot read ${source}: ${(e as Error).message}`);
    }
    const r = injectStream(text, {
      image: values.image!, server: values.server!, nativeSidecar: values['native-sidecar']!,
      identity: { kind: 'secret', ...(values['join-secret'] ? { secretName: values['join-secret'] } : {}) },
    }, source);
    for (const n of r.notes) if (n.skipped && !n.skipped.startsWith('already injected')) err(`bowline kube-inject: ${n.workload} left as is: ${n.skipped}\n`);
    if (values.output) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(values.output, r.text);
    } else out(r.text);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof InjectError) { err(`bowline kube-inject: ${e.code}: ${e.message}\n`); return EXIT_INVALID; }
    throw e;
  }
}

/** `bowline kube-inject`: adds the sidecar to Kubernetes manifests, offline. */
export const command: Command = {
  name: 'kube-inject',
  summary: 'Add the Bowline sidecar to Kubernetes Deployments, Pods, Jobs ... YAML (offline, like istioctl kube-inject)',
  run: (args) => runKubeInject(args),
};
