import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bowlineVersion } from '../../control/version.js';
import { InstallError, marathonInstall } from '../../platform/marathon/install.js';
import { kubernetesInstall } from '../../platform/kubernetes/install.js';
import { resolveValues, valueKeys, ValuesError } from '../../platform/kubernetes/values.js';
import { stringify } from 'yaml';
import { readFileSync } from 'node:fs';
import { EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline install kubernetes [--set KEY=VALUE ...] [-f values.yaml ...]
       bowline install marathon [-o DIR] [--store embedded|etcd://HOST:PORT,...] [--replicas N]
                              [--marathon URL] [--marathon-token-file F] [--marathon-domain D]... [--image IMAGE]

Prints, offline, what to give your platform to run Bowline on it.

kubernetes: one multi-document YAML stream (namespace istio-system, Istio's CRDs, RBAC, the control
plane Deployment and Service, the webhook configurations, the ingress gateway Deployment and its
LoadBalancer Service istio-ingressgateway), every namespaced object with its namespace:
  bowline install kubernetes | kubectl apply -f -        (uninstall: ... | kubectl delete -f -)
The Helm chart charts/bowline renders the same objects for the same values (docs/platforms/kubernetes.md).
  --set KEY=VALUE          a value (repeatable), as Helm's --set; e.g. global.configValidation=false,
                           sidecarInjectorWebhook.enabled=false (webhooks off, as on EKS before webhooks)
  -f, --values FILE        a values file (repeatable; --set wins); keys as in charts/bowline/values.yaml:
                           ${valueKeys().join(', ')}

marathon: the control plane as a Marathon app (embedded store on a persistent volume, or etcd) and
the ingress gateway as a pod with host ports 80/443, as a JSON array on stdout, or one file per
definition with -o DIR (control-plane.json: \`dcos marathon app add\`; ingressgateway.json:
\`dcos marathon pod add\`). No Kubernetes API server or etcd is needed (docs/platforms/marathon.md).

  -o DIR                   write one JSON file per definition into DIR
  --store S                embedded (default; one instance) or etcd://HOST:PORT[,...] (--replicas, default 3)
  --marathon URL           the Marathon the registry reads (default http://marathon.mesos:8080)
  --marathon-token-file F  DC/OS service-account token file inside the task
  --marathon-domain D      Mesos-DNS domain (repeatable; default marathon.mesos and marathon.slave.mesos)
  --image IMAGE            image holding the bowline package (default bowline/bowline:VERSION)
`;

/** Runs `bowline install PLATFORM`; resolves to the exit code. */
export async function runInstall(args: string[], out: (s: string) => void = (s) => void process.stdout.write(s), err: (s: string) => void = (s) => void process.stderr.write(s)): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    output: { type: 'string', short: 'o' },
    store: { type: 'string', default: 'embedded' },
    replicas: { type: 'string' },
    marathon: { type: 'string', default: 'http://marathon.mesos:8080' },
    'marathon-token-file': { type: 'string' },
    'marathon-domain': { type: 'string', multiple: true },
    image: { type: 'string', default: `bowline/bowline:${bowlineVersion()}` },
    set: { type: 'string', multiple: true },
    values: { type: 'string', short: 'f', multiple: true },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) { out(usage); return EXIT_OK; }
  const platform = positionals[0];
  if (!platform || positionals.length > 1) throw new UsageError('name one platform: bowline install kubernetes|marathon');
  if (platform === 'kubernetes') {
    try {
      const files = (values.values ?? []).map((name) => {
        try { return { name, text: name === '-' ? readFileSync(0, 'utf8') : readFileSync(name, 'utf8') }; } catch (e) { throw new ValuesError(`cannot read ${name}: ${(e as Error).message}`); }
      });
      const objects = kubernetesInstall(resolveValues(bowlineVersion(), files, values.set ?? []));
      out(objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
      return EXIT_OK;
    } catch (e) {
      if (e instanceof ValuesError) { err(`bowline install: ${e.code}: ${e.message}\n`); return EXIT_INVALID; }
      throw e;
    }
  }
  if (values.set || values.values) throw new UsageError('--set and -f are values of bowline install kubernetes');
  if (platform !== 'marathon') throw new UsageError(`unknown platform "${platform}": bowline install kubernetes|marathon`);
  let replicas: number | undefined;
  if (values.replicas !== undefined) {
    replicas = Number(values.replicas);
    if (!Number.isInteger(replicas) || replicas < 1) throw new UsageError(`--replicas must be a positive integer, got "${values.replicas}"`);
  }
  try {
    const defs = marathonInstall({
      image: values.image!, store: values.store!, marathonUrl: values.marathon!,
      ...(replicas !== undefined ? { replicas } : {}),
      ...(values['marathon-token-file'] ? { marathonTokenFile: values['marathon-token-file'] } : {}),
      ...(values['marathon-domain'] ? { mesosDomains: values['marathon-domain'] } : {}),
    });
    if (values.output) {
      mkdirSync(values.output, { recursive: true });
      for (const d of defs) {
        writeFileSync(join(values.output, d.file), JSON.stringify(d.definition, null, 2) + '\n');
        err(`wrote ${join(values.output, d.file)} (${d.kind === 'app' ? 'dcos marathon app add' : 'dcos marathon pod add'} ${join(values.output, d.file)})\n`);
      }
    } else out(JSON.stringify(defs.map((d) => d.definition), null, 2) + '\n');
    return EXIT_OK;
  } catch (e) {
    if (e instanceof InstallError) { err(`bowline install: ${e.code}: ${e.message}\n`); return EXIT_INVALID; }
    throw e;
  }
}

/** `bowline install PLATFORM`: the manifests that run Bowline on a platform. */
export const command: Command = {
  name: 'install',
  summary: 'Print what runs Bowline on a platform: kubernetes (manifests, like the Helm chart) or marathon (app and gateway pod)',
  run: (args) => runInstall(args),
};
