/**
 * `bowline install kubernetes`: every object that runs Bowline on a cluster, offline, in the order
 * `kubectl apply -f -` needs them (Namespace and CRDs first). charts/bowline renders the same
 * objects for the same values (a test runs the real helm and compares).
 *
 * - namespace istio-system; Istio's CRDs from Bowline's own schemas (src/control/crds.ts);
 * - the control plane: ServiceAccount, RBAC, Deployment and Service `bowline` (push 15012,
 *   monitoring/API 15014, webhooks 443 -> 15017);
 * - the webhook configurations (validation of Istio's groups, sidecar injection with Istio's
 *   selectors), with `global.caBundle` or an empty bundle the control plane patches at run time;
 * - the ingress gateway: Deployment and a LoadBalancer Service `istio-ingressgateway` with Istio's
 *   port names (http2, https, status-port), so the seeds' jsonpath commands work.
 * Every namespaced object names its namespace (`kubectl apply -n other` cannot move it).
 */
import { crdOf } from '../../control/crds.js';
import { servedKinds } from '../../control/kinds.js';
import type { Json } from './inject.js';
import { CONTROL_PLANE_NAME as CP, INJECT_PATH, MUTATING_WEBHOOK, SYSTEM_NAMESPACE as NS, VALIDATE_PATH, VALIDATING_WEBHOOK, WEBHOOK_PORT } from './names.js';
import type { Values } from './values.js';

const partOf = { 'app.kubernetes.io/part-of': 'bowline' };

/** The CRD of every Istio kind, as installed in a cluster (no server-set fields). */
export function installCrds(): Json[] {
  return servedKinds.filter((k) => k.custom).map((k) => {
    const c = structuredClone(crdOf(k)) as unknown as Json;
    const spec = c['spec'] as Json;
    // A cluster's apiserver owns metadata's schema (a CRD may only constrain name and generateName).
    for (const v of spec['versions'] as Json[]) delete ((((v['schema'] as Json)['openAPIV3Schema'] as Json)['properties'] ?? {}) as Json)['metadata'];
    return { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: (c['metadata'] as Json)['name'], labels: { ...partOf } }, spec };
  }).sort((a, b) => String((a['metadata'] as Json)['name']).localeCompare(String((b['metadata'] as Json)['name'])));
}

/** The groups the validating webhook covers: every group of an Istio kind Bowline validates. */
export function istioGroups(): string[] {
  return [...new Set(servedKinds.filter((k) => k.custom).map((k) => k.group))].sort();
}

const image = (v: Values) => `${v.global.hub}/bowline:${v.global.tag}`;

function rbac(): Json[] {
  const sa = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: CP, namespace: NS, labels: { app: CP, ...partOf } } };
  const clusterRole = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: CP, labels: { app: CP, ...partOf } },
    rules: [
      { apiGroups: [''], resources: ['pods', 'services', 'endpoints', 'namespaces', 'nodes', 'serviceaccounts', 'configmaps', 'secrets'], verbs: ['get', 'list', 'watch'] },
      // --config-source kubernetes: the root namespace and Istio's CRDs are created when missing.
      { apiGroups: [''], resources: ['namespaces'], verbs: ['create'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: istioGroups(), resources: ['*'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list', 'watch', 'create'] },
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
    ],
  };
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: CP, labels: { app: CP, ...partOf } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CP },
    subjects: [{ kind: 'ServiceAccount', name: CP, namespace: NS }],
  };
  // Its own state (CA, used tokens, leases) lives in its namespace only.
  const role = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: CP, namespace: NS, labels: { app: CP, ...partOf } },
    rules: [
      { apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
    ],
  };
  const roleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: CP, namespace: NS, labels: { app: CP, ...partOf } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CP },
    subjects: [{ kind: 'ServiceAccount', name: CP, namespace: NS }],
  };
  return [sa, clusterRole, binding, role, roleBinding];
}

function controlPlane(v: Values): Json[] {
  const inject = v.sidecarInjectorWebhook.enabled;
  const hooks = [...(v.global.configValidation ? ['validate'] : []), ...(inject ? ['inject'] : [])];
  const args = ['up', '--home', '/var/lib/bowline', '--listen-api', '0.0.0.0:15014', '--listen-push-tls', '0.0.0.0:15012',
    '--trust-domain', v.meshConfig.trustDomain, '--kube-in-cluster', '--config-source', 'kubernetes', '--replica-id', '$(POD_NAME)',
    ...(hooks.length ? ['--listen-webhook', `0.0.0.0:${WEBHOOK_PORT}`, '--webhooks', hooks.join(',')] : []),
    ...(inject ? ['--inject-image', image(v), '--inject-failure-policy', v.sidecarInjectorWebhook.failurePolicy] : []),
    ...(inject && v.sidecarInjectorWebhook.nativeSidecar ? ['--inject-native-sidecar'] : [])];
  const labels = { app: CP, istio: 'pilot', ...partOf };
  const deployment = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: CP, namespace: NS, labels },
    spec: {
      replicas: v.pilot.replicaCount,
      selector: { matchLabels: { app: CP } },
      template: {
        metadata: { labels, annotations: { 'sidecar.istio.io/inject': 'false' } },
        spec: {
          serviceAccountName: CP,
          securityContext: { runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true, fsGroup: 1337 },
          containers: [{
            name: 'discovery', image: image(v), imagePullPolicy: v.global.imagePullPolicy,
            command: ['bowline'], args,
            env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            ports: [
              { name: 'tls-push', containerPort: 15012, protocol: 'TCP' },
              { name: 'http-monitoring', containerPort: 15014, protocol: 'TCP' },
              { name: 'https-webhook', containerPort: WEBHOOK_PORT, protocol: 'TCP' },
            ],
            readinessProbe: { httpGet: { path: '/readyz', port: 15014 }, periodSeconds: 3, timeoutSeconds: 5 },
            resources: { requests: { cpu: '500m', memory: '256Mi' } },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: [{ name: 'home', mountPath: '/var/lib/bowline' }],
          }],
          volumes: [{ name: 'home', emptyDir: {} }],
        },
      },
    },
  };
  const service = {
    apiVersion: 'v1', kind: 'Service', metadata: { name: CP, namespace: NS, labels: { app: CP, istio: 'pilot', ...partOf } },
    spec: {
      selector: { app: CP },
      ports: [
        { name: 'tls-push', port: 15012, targetPort: 15012, protocol: 'TCP' },
        { name: 'http-monitoring', port: 15014, targetPort: 15014, protocol: 'TCP' },
        { name: 'https-webhook', port: 443, targetPort: WEBHOOK_PORT, protocol: 'TCP' },
      ],
    },
  };
  return [deployment, service];
}

/** Where the apiserver sends reviews: the control plane's Service, or a URL (a control plane outside the cluster). */
function webhookClient(v: Values, path: string, url: string): Json {
  return url ? { url, caBundle: v.global.caBundle } : { service: { name: CP, namespace: NS, path, port: 443 }, caBundle: v.global.caBundle };
}

function validating(v: Values): Json {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: VALIDATING_WEBHOOK, labels: { app: CP, ...partOf } },
    webhooks: [{
      name: 'validation.istio.io',
      clientConfig: webhookClient(v, VALIDATE_PATH, v.base.validationURL),
      rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: istioGroups(), apiVersions: ['*'], resources: ['*'], scope: '*' }],
      failurePolicy: 'Fail',
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      timeoutSeconds: 10,
    }],
  };
}

function mutating(v: Values): Json {
  const hook = (name: string, namespaceSelector: Json, objectSelector: Json): Json => ({
    name,
    clientConfig: webhookClient(v, INJECT_PATH, v.istiodRemote.injectionURL),
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' }],
    namespaceSelector,
    objectSelector,
    failurePolicy: v.sidecarInjectorWebhook.failurePolicy,
    sideEffects: 'None',
    reinvocationPolicy: 'Never',
    admissionReviewVersions: ['v1'],
    timeoutSeconds: 10,
  });
  const notOptedOut = { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }] };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: MUTATING_WEBHOOK, labels: { app: CP, ...partOf } },
    webhooks: [
      // Istio's three selectors: a labelled namespace; the default revision by label; a pod that opts in.
      hook('namespace.sidecar-injector.istio.io', { matchLabels: { 'istio-injection': 'enabled' } }, notOptedOut),
      hook('rev.namespace.sidecar-injector.istio.io', { matchExpressions: [{ key: 'istio.io/rev', operator: 'In', values: ['default'] }, { key: 'istio-injection', operator: 'DoesNotExist' }] }, notOptedOut),
      hook('object.sidecar-injector.istio.io', { matchExpressions: [{ key: 'istio-injection', operator: 'DoesNotExist' }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] },
        { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] }] }),
    ],
  };
}

function gateway(v: Values): Json[] {
  const g = v.gateways['istio-ingressgateway'];
  const name = 'istio-ingressgateway';
  const labels = { app: name, istio: 'ingressgateway', ...partOf };
  const sa = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: NS, labels } };
  const deployment = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: NS, labels },
    spec: {
      replicas: g.replicaCount,
      selector: { matchLabels: { app: name, istio: 'ingressgateway' } },
      template: {
        metadata: { labels, annotations: { 'sidecar.istio.io/inject': 'false' } },
        spec: {
          serviceAccountName: name,
          securityContext: { runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true },
          containers: [{
            name: 'istio-proxy', image: image(v), imagePullPolicy: v.global.imagePullPolicy,
            command: ['bowline'],
            args: ['proxy', '--gateway', '--server', `${CP}.${NS}.svc:15012`, '--token-file', '/var/run/bowline/join/token',
              '--name', name, '--namespace', NS, '--service-account', name, '--labels', 'app=istio-ingressgateway,istio=ingressgateway',
              '--bind-port', '80=8080', '--bind-port', '443=8443', '--address', '$(POD_IP)', '--id', '$(POD_NAME).istio-system',
              '--health-port', '15021', '--metrics-address', '0.0.0.0'],
            env: [
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            ],
            ports: [
              { name: 'http2', containerPort: 8080, protocol: 'TCP' },
              { name: 'https', containerPort: 8443, protocol: 'TCP' },
              { name: 'status-port', containerPort: 15021, protocol: 'TCP' },
              { name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' },
            ],
            readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 2, failureThreshold: 30 },
            resources: { requests: { cpu: '100m', memory: '128Mi' } },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: [{ name: 'bowline-join', mountPath: '/var/run/bowline/join', readOnly: true }],
          }],
          // A reusable join token for istio-system/istio-ingressgateway (docs/platforms/kubernetes.md says how to create it).
          volumes: [{ name: 'bowline-join', secret: { secretName: 'bowline-join-istio-ingressgateway', optional: false } }],
        },
      },
    },
  };
  const service = {
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS, labels },
    spec: {
      type: g.type,
      selector: { app: name, istio: 'ingressgateway' },
      ports: [
        { name: 'status-port', port: 15021, targetPort: 15021, protocol: 'TCP' },
        { name: 'http2', port: 80, targetPort: 8080, protocol: 'TCP' },
        { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' },
      ],
    },
  };
  return [sa, deployment, service];
}

/** Every object, in apply order. */
export function kubernetesInstall(v: Values): Json[] {
  const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { ...partOf } } };
  return [
    namespace,
    ...installCrds(),
    ...rbac(),
    ...controlPlane(v),
    ...(v.global.configValidation ? [validating(v)] : []),
    ...(v.sidecarInjectorWebhook.enabled ? [mutating(v)] : []),
    ...(v.gateways['istio-ingressgateway'].enabled ? gateway(v) : []),
  ];
}
