import { describe, expect, it } from 'vitest';
import { DEFAULT_DOMAINS } from '../../model/service.js';
import { DEFAULT_MESOS_DOMAINS, mesosDnsLabel, placeId, ViewBuilder, type MarathonNaming } from './translate.js';
import type { MarathonApp, MarathonPodStatus } from './types.js';

const naming: MarathonNaming = { serviceLabel: 'istio', domains: DEFAULT_DOMAINS, mesosDomains: DEFAULT_MESOS_DOMAINS, source: 'marathon' };

function hostApp(id: string, labels: Record<string, string>, tasks: MarathonApp['tasks']): MarathonApp {
  return { id, labels, portDefinitions: [{ port: 9080, name: 'http', protocol: 'tcp' }], tasks };
}

describe('Marathon names', () => {
  it('maps groups to namespaces and builds Mesos-DNS labels as Mesos-DNS does', () => {
    expect(placeId('/bookinfo/reviews')).toEqual({ namespace: 'bookinfo', name: 'reviews', groups: ['bookinfo'] });
    expect(placeId('/reviews')).toEqual({ namespace: 'default', name: 'reviews', groups: [] });
    expect(placeId('/prod/shop/cart').namespace).toBe('prod-shop');
    expect(mesosDnsLabel('reviews', ['bookinfo'])).toBe('reviews-bookinfo');
    expect(mesosDnsLabel('cart', ['prod', 'shop'])).toBe('cart-shop-prod');
  });

  it('gives a service its Bowline names, its Mesos-DNS names in every domain and its DC/OS VIP names', () => {
    const b = new ViewBuilder(naming);
    b.addApp({ id: '/bookinfo/reviews-v1', labels: { istio: 'reviews', version: 'v1' }, portDefinitions: [{ port: 9080, name: 'http', labels: { VIP_0: '/bookinfo/reviews:9080' } }], tasks: [{ id: 't1', host: '10.0.0.5', ports: [31001], state: 'TASK_RUNNING' }] });
    b.addApp({ id: '/productpage', labels: { istio: 'productpage' }, portDefinitions: [{ port: 9080, name: 'http', labels: { VIP_0: '10.10.0.9:9080' } }], tasks: [] });
    const v = b.view();
    const reviews = v.services.find((s) => s.name === 'reviews')!;
    expect(reviews.hostname).toBe('reviews.bookinfo.svc.cluster.local');
    expect(reviews.aliases).toEqual(expect.arrayContaining(['reviews-bookinfo.marathon.mesos', 'reviews-bookinfo.marathon.slave.mesos', 'bookinforeviews.marathon.l4lb.thisdcos.directory', 'reviews.bookinfo']));
    const pp = v.services.find((s) => s.name === 'productpage')!;
    expect(pp.namespace).toBe('default');
    expect(pp.aliases).toContain('productpage.marathon.slave.mesos');
    expect(pp.addresses).toEqual(['10.10.0.9']);
    expect(v.endpoints).toEqual([expect.objectContaining({ service: 'reviews.bookinfo.svc.cluster.local', servicePort: 9080, address: '10.0.0.5', port: 31001, workload: 'reviews-v1', namespace: 'bookinfo', tlsMode: 'disabled' })]);
    expect(v.endpoints[0]!.labels).toMatchObject({ istio: 'reviews', version: 'v1', app: 'reviews' });
  });

  it('leaves out an app without the service label, and names by app id when the label setting is empty', () => {
    const b = new ViewBuilder(naming);
    b.addApp(hostApp('/tools/cron', {}, []));
    expect(b.view().services).toEqual([]);
    expect(b.skipped).toEqual(['/tools/cron has no "istio" label']);
    const byId = new ViewBuilder({ ...naming, serviceLabel: '' });
    byId.addApp(hostApp('/tools/cron', {}, []));
    expect(byId.view().services.map((s) => s.hostname)).toEqual(['cron.tools.svc.cluster.local']);
  });

  it('merges two apps claiming one service into its endpoints and reports ports that disagree', () => {
    const b = new ViewBuilder(naming);
    b.addApp(hostApp('/reviews-v1', { istio: 'reviews', version: 'v1' }, [{ id: 'a', host: '10.0.0.1', ports: [31000], state: 'TASK_RUNNING' }]));
    b.addApp({ id: '/reviews-v2', labels: { istio: 'reviews', version: 'v2' }, portDefinitions: [{ port: 9080, name: 'tcp' }], tasks: [{ id: 'b', host: '10.0.0.2', ports: [31001], state: 'TASK_RUNNING' }] });
    const v = b.view();
    expect(v.services).toHaveLength(1);
    expect(v.endpoints.map((e) => `${e.labels['version']}@${e.address}:${e.port}`)).toEqual(['v1@10.0.0.1:31000', 'v2@10.0.0.2:31001']);
    expect(b.conflicts).toEqual([expect.stringContaining('port 9080 of reviews.default.svc.cluster.local is TCP here but HTTP')]);
  });

  it('reads bridge and container networking: host ports from the task, container ports on the task IP', () => {
    const b = new ViewBuilder(naming);
    b.addApp({ id: '/bridge', labels: { istio: 'bridge' }, networks: [{ mode: 'container/bridge' }], container: { portMappings: [{ containerPort: 8080, hostPort: 0, servicePort: 10001, name: 'http' }, { containerPort: 9000, name: 'grpc-admin' }] }, tasks: [{ id: 't', host: '10.0.0.7', ports: [31500], state: 'TASK_RUNNING' }] });
    b.addApp({ id: '/overlay', labels: { istio: 'overlay' }, networks: [{ mode: 'container', name: 'dcos' }], container: { portMappings: [{ containerPort: 3306, name: 'mysql' }] }, tasks: [{ id: 'u', host: '10.0.0.8', ipAddresses: [{ ipAddress: '9.0.1.2', protocol: 'IPv4' }], state: 'TASK_RUNNING' }] });
    b.addApp({ id: '/legacy', labels: { istio: 'legacy' }, container: { docker: { network: 'BRIDGE', portMappings: [{ containerPort: 80, hostPort: 0, servicePort: 10002, name: 'http' }] } }, tasks: [{ id: 'v', host: '10.0.0.9', ports: [31600], state: 'TASK_RUNNING' }] });
    const eps = b.view().endpoints.map((e) => `${e.service.split('.')[0]}:${e.servicePort}->${e.address}:${e.port}`);
    expect(eps).toEqual(['bridge:10001->10.0.0.7:31500', 'overlay:3306->9.0.1.2:3306', 'legacy:10002->10.0.0.9:31600']);
    expect(b.view().services.find((s) => s.name === 'overlay')!.ports).toEqual([{ name: 'mysql', port: 3306, protocol: 'TCP' }]);
  });

  it('keeps only running tasks and marks failing health checks unhealthy', () => {
    const b = new ViewBuilder(naming);
    b.addApp({ ...hostApp('/r', { istio: 'r' }, [
      { id: 'ok', host: '10.0.0.1', ports: [1], state: 'TASK_RUNNING', healthCheckResults: [{ alive: true }] },
      { id: 'sick', host: '10.0.0.2', ports: [2], state: 'TASK_RUNNING', healthCheckResults: [{ alive: false }] },
      { id: 'new', host: '10.0.0.3', ports: [3], state: 'TASK_RUNNING' },
      { id: 'staging', host: '10.0.0.4', ports: [4], state: 'TASK_STAGING' },
      { id: 'dead', host: '10.0.0.5', ports: [5], state: 'TASK_KILLED' },
    ]), healthChecks: [{ protocol: 'MESOS_HTTP' }] });
    expect(b.view().endpoints.map((e) => `${e.port}:${e.health}`)).toEqual(['1:healthy', '2:unhealthy', '3:unhealthy']);
    expect(b.view().workloads.map((w) => w.id)).toEqual(['marathon/ok', 'marathon/sick', 'marathon/new']);
  });

  it('reads pods: endpoints per instance from allocated host ports or the container network, injected pods speak mTLS', () => {
    const pod: MarathonPodStatus = {
      id: '/bookinfo/ratings',
      spec: { id: '/bookinfo/ratings', labels: { istio: 'ratings', version: 'v1', 'bowline.io/service-account': 'ratings' }, networks: [{ mode: 'host' }], containers: [
        { name: 'app', endpoints: [{ name: 'http', containerPort: 9080, hostPort: 0 }] },
        { name: 'bowline-proxy', endpoints: [{ name: 'bowline-admin', hostPort: 0 }] },
      ] },
      instances: [
        { id: 'i1', status: 'STABLE', agentHostname: '10.0.1.1', agentRegion: 'eu', agentZone: 'eu-1a', containers: [{ name: 'app', endpoints: [{ name: 'http', allocatedHostPort: 31900, healthy: true }] }] },
        { id: 'i2', status: 'DEGRADED', agentHostname: '10.0.1.2', containers: [{ name: 'app', endpoints: [{ name: 'http', allocatedHostPort: 31901, healthy: false }] }] },
        { id: 'i3', status: 'TERMINAL', agentHostname: '10.0.1.3', containers: [{ name: 'app', endpoints: [{ name: 'http', allocatedHostPort: 31902 }] }] },
      ],
    };
    const b = new ViewBuilder(naming);
    b.addPod(pod);
    const v = b.view();
    expect(v.services.map((s) => [s.hostname, s.ports])).toEqual([['ratings.bookinfo.svc.cluster.local', [{ name: 'http', port: 9080, protocol: 'HTTP' }]]]);
    expect(v.endpoints.map((e) => [e.address, e.port, e.health, e.tlsMode, e.serviceAccount, e.locality ?? ''])).toEqual([
      ['10.0.1.1', 31900, 'healthy', 'istio', 'ratings', 'eu/eu-1a'],
      ['10.0.1.2', 31901, 'unhealthy', 'istio', 'ratings', ''],
    ]);
    expect(v.workloads.map((w) => [w.id, w.hasProxy])).toEqual([['marathon/i1', true], ['marathon/i2', true]]);
  });
});
