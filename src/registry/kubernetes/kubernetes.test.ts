import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeError, KubernetesRegistry, KubeRequestError } from './kubernetes.js';
import { tempDir } from '../../../test/support/temp.js';

// The registry's behaviour against a real apiserver (lists, watches, RBAC, outages) is in
// test/e2e/kube-registry.test.ts; here: what it refuses before it talks to anything.
describe('KubernetesRegistry set-up', () => {
  it('refuses a kubeconfig it cannot read, or one without a cluster, naming the file', () => {
    expect(() => new KubernetesRegistry({ kubeconfig: '/nonexistent/kubeconfig' })).toThrow(/registry kubernetes: cannot read kubeconfig \/nonexistent\/kubeconfig: ENOENT/);
    const dir = tempDir('bowline-kube-');
    writeFileSync(join(dir, 'empty'), 'apiVersion: v1\nkind: Config\n');
    expect(() => new KubernetesRegistry({ kubeconfig: join(dir, 'empty'), name: 'kubernetes-2' })).toThrow(`registry kubernetes-2: kubeconfig ${join(dir, 'empty')} names no cluster server`);
  });

  it('reports not-read-yet resources by name before start', () => {
    const dir = tempDir('bowline-kube-');
    writeFileSync(join(dir, 'k'), 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
    const st = new KubernetesRegistry({ kubeconfig: join(dir, 'k'), namespaces: ['shop'] }).status();
    expect(st).toMatchObject({ registry: 'kubernetes', target: 'https://127.0.0.1:1', healthy: false, errors: 0 });
    expect(st.error).toBe('not read yet: services in namespace shop, endpointslices.discovery.k8s.io in namespace shop, pods in namespace shop, nodes (cluster-wide), namespaces (cluster-wide)');
  });

  it('describes failures in the apiserver\'s words, or by the network error', () => {
    expect(describeError(new KubeRequestError(403, 'Forbidden', 'pods is forbidden'))).toEqual({ reason: 'Forbidden', message: 'pods is forbidden', status: 403 });
    expect(describeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toEqual({ reason: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1', status: 0 });
    expect(describeError(Object.assign(new Error('Forbidden'), { statusCode: 403 }))).toEqual({ reason: 'Forbidden', message: 'HTTP 403', status: 403 });
  });
});
