import type { Command } from './command.js';

/**
 * Every CLI command, loaded lazily so `bowline version` does not pay for the proxy or the
 * control plane. To add a command: one file in commands/ exporting `command`, one line here.
 */
export const commands: Array<{ name: string; aliases?: string[]; summary: string; load: () => Promise<Command> }> = [
  { name: 'demo', summary: 'Run Bookinfo, httpbin and sleep with sidecars and a gateway on localhost:8080', load: async () => (await import('./commands/demo.js')).command },
  { name: 'validate', summary: 'Check Istio YAML/JSON files: every violation with file:line:col, code and field path', load: async () => (await import('./commands/validate.js')).command },
  { name: 'version', summary: 'Print the Bowline version', load: async () => (await import('./commands/version.js')).command },
  { name: 'proxy', summary: 'Run the Bowline proxy (data plane), a sidecar or gateway, from a config file or the control plane', load: async () => (await import('./commands/proxy.js')).command },
  { name: 'up', aliases: ['control'], summary: 'Run the control plane (config API, store, push stream)', load: async () => (await import('./commands/up.js')).command },
  { name: 'apply', summary: 'Create or update resources from YAML/JSON files (like kubectl apply)', load: async () => (await import('./commands/apply.js')).command },
  { name: 'get', summary: 'List resources as a table, or show them as YAML/JSON (like kubectl get)', load: async () => (await import('./commands/get.js')).command },
  { name: 'delete', summary: 'Delete resources by KIND NAME or from files (like kubectl delete)', load: async () => (await import('./commands/delete.js')).command },
  { name: 'describe', summary: 'Show one resource in detail (like kubectl describe)', load: async () => (await import('./commands/describe.js')).command },
  { name: 'ca', summary: 'Offline root and per-cluster intermediate CAs (Istio cacerts files); rotate a running mesh\'s root', load: async () => (await import('./commands/ca.js')).command },
  { name: 'cluster', summary: 'Add, list and remove remote clusters (a Bowline control plane or a Kubernetes API) whose services join this mesh', load: async () => (await import('./commands/cluster.js')).command },
  { name: 'api-token', summary: 'Create, list and revoke scoped API tokens (read-only, registry-read, viewer, admin); rotate the admin token', load: async () => (await import('./commands/api-token.js')).command },
  { name: 'token', summary: 'Create a bootstrap token that lets one workload identity get its first certificate', load: async () => (await import('./commands/token.js')).command },
  { name: 'proxy-status', summary: 'Show each proxy\'s sync state per resource type (SYNCED/STALE/NACKED), last ACK and convergence', load: async () => (await import('./commands/proxy-status.js')).command },
  { name: 'proxy-config', summary: 'Show the listeners, routes, clusters or endpoints the control plane gives one proxy', load: async () => (await import('./commands/proxy-config.js')).command },
  { name: 'authn', summary: 'Check mTLS settings: server mode vs client TLS per host and port, conflicts explained', load: async () => (await import('./commands/authn.js')).command },
  { name: 'capture', summary: 'Install, remove or print the transparent capture rules (iptables) of a workload\'s network namespace', load: async () => (await import('./commands/capture.js')).command },
  { name: 'kubeconfig', summary: 'Write a kubeconfig (server, CA data, admin token) so kubectl drives Bowline without flags', load: async () => (await import('./commands/kubeconfig.js')).command },
  { name: 'register', summary: 'Register a service instance at an address, for machines without a proxy (istioctl register)', load: async () => (await import('./commands/register.js')).command },
  { name: 'kube-inject', summary: 'Add the Bowline sidecar to Kubernetes Deployments, Pods, Jobs ... YAML (offline, like istioctl kube-inject)', load: async () => (await import('./commands/kube-inject.js')).command },
  { name: 'marathon', summary: 'Add the Bowline proxy to Marathon app, pod or group JSON (offline)', load: async () => (await import('./commands/marathon.js')).command },
  { name: 'install', summary: 'Print what runs Bowline on a platform: kubernetes (manifests, like the Helm chart) or marathon (app and gateway pod)', load: async () => (await import('./commands/install.js')).command },
  { name: 'store', summary: 'Check, repair, back up and restore the embedded store', load: async () => (await import('./commands/store.js')).command },
  { name: 'vm', summary: 'Bring a VM or bare-metal host into the mesh: bundle (control plane side), join and leave (on the host)', load: async () => (await import('./commands/vm.js')).command },
  { name: 'join', summary: 'Join this host to the mesh from a bundle (bowline vm bundle): user, /etc/bowline, systemd unit, capture', load: async () => (await import('./commands/vm.js')).joinCommand },
  { name: 'leave', summary: 'Undo bowline join: unit, capture rules, /etc/bowline and the bowline-proxy user', load: async () => (await import('./commands/vm.js')).leaveCommand },
  { name: 'dashboard', summary: 'Print the URL of the web dashboard (service graph, traffic, config, security, proxies) and open it', load: async () => (await import('./commands/dashboard.js')).command },
  { name: 'explain', summary: 'Explain a request from a workload: listener, route (VirtualService rule and file:line), fault, timeout, cluster, endpoints, mTLS, authorization', load: async () => (await import('./commands/explain.js')).command },
  { name: 'analyze', summary: 'Find configuration problems (Istio IST codes and Bowline\'s own) in files, the live mesh or both; exit 79 on errors', load: async () => (await import('./commands/analyze.js')).command },
  { name: 'coverage', summary: 'List every accepted Istio field: proven end to end by a named test, or warned (BOWLINE_W_API_NOT_ENFORCED), with counts', load: async () => (await import('./commands/coverage.js')).command },
  { name: 'completion', summary: 'Print a bash, zsh or fish completion script (commands, flags, kinds, names from the live server)', load: async () => (await import('./commands/completion.js')).command },
];
