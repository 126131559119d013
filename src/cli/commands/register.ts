import { parseLabels } from '../../proxy/bootstrap.js';
import { parsePorts } from '../../registry/manual/manual.js';
import { ApiClient, failureLine, resolveTarget } from '../client.js';
import { clientFlags, EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';

const usage = `Usage: bowline register SERVICE ADDRESS [PORTNAME:]PORT... [-n NS] [--labels k=v,...] [--server URL]
       bowline register --remove SERVICE ADDRESS [-n NS]

Registers a service instance running on a machine without a Bowline proxy (like
\`istioctl register mysql 1.2.3.4 3306\`). An unnamed port is named http (HTTP); name it tcp-...,
grpc-..., http2-... to choose the protocol as Istio's port naming does.
`;

/** `bowline register`: add (or remove) a manual service instance. */
export const command: Command = {
  name: 'register',
  summary: 'Register a service instance at an address, for machines without a proxy (istioctl register)',
  async run(args) {
    const { values, positionals } = parseFlags(args, { ...clientFlags, namespace: { type: 'string', short: 'n', default: 'default' }, labels: { type: 'string' }, remove: { type: 'boolean' } });
    if (values.help) { process.stdout.write(usage); return EXIT_OK; }
    const [service, address, ...ports] = positionals;
    if (!service || !address) throw new UsageError('SERVICE and ADDRESS are required\n' + usage);
    const api = new ApiClient(resolveTarget(values));
    const ns = values.namespace!;
    if (values.remove) {
      const res = await api.call('DELETE', `/registry/v1/manual?namespace=${encodeURIComponent(ns)}&service=${encodeURIComponent(service)}&address=${encodeURIComponent(address)}`);
      if (res.status !== 200) { process.stderr.write(failureLine('register', res)); return EXIT_INVALID; }
      process.stdout.write(`${service}.${ns} ${address} unregistered\n`);
      return EXIT_OK;
    }
    let parsedPorts;
    try { parsedPorts = parsePorts(ports); } catch (err) { throw new UsageError((err as Error).message); }
    let labels: Record<string, string>;
    try { labels = parseLabels(values.labels ?? ''); } catch (err) { throw new UsageError((err as Error).message); }
    const res = await api.call('POST', '/registry/v1/manual', { service, namespace: ns, address, ports: parsedPorts, labels });
    if (res.status !== 201) { process.stderr.write(failureLine('register', res)); return EXIT_INVALID; }
    process.stdout.write(`${service}.${ns} registered at ${address} ports ${parsedPorts.map((p) => `${p.name}:${p.port}`).join(' ')}\n`);
    return EXIT_OK;
  },
};
