import { arr, int, map, obj, req, str } from './dsl.js';
import { labels, portNumber } from './common.js';
import { workloadTemplate } from './service-entry.js';

const probePort = () => req(portNumber());

/** spec of a WorkloadGroup: the template of the WorkloadEntries of VMs that join (and their health probe). */
export const workloadGroupSpec = obj('WorkloadGroupSpec', {
  metadata: obj('ObjectMeta', { labels, annotations: map(str()) }),
  template: req(workloadTemplate),
  probe: obj('ReadinessProbe', {
    initialDelaySeconds: int(0),
    timeoutSeconds: int(0),
    periodSeconds: int(0),
    successThreshold: int(0),
    failureThreshold: int(0),
    httpGet: obj('HTTPHealthCheckConfig', {
      path: str(),
      port: probePort(),
      host: str(),
      scheme: str((v) => (['', 'HTTP', 'HTTPS'].includes(v) ? undefined : { code: 'BOWLINE_E_API_ENUM', message: `scheme "${v}" is not allowed: expected HTTP or HTTPS` })),
      httpHeaders: arr(obj('HTTPHeader', { name: str((v) => (/^[-_A-Za-z0-9]+$/.test(v) ? undefined : { code: 'BOWLINE_E_API_KEY', message: `header name "${v}" may hold only letters, digits, "-" and "_"` })), value: str() })),
    }),
    tcpSocket: obj('TCPHealthCheckConfig', { host: str(), port: probePort() }),
    exec: obj('ExecHealthCheckConfig', { command: req(arr(str())) }),
    grpc: obj('GrpcHealthCheckConfig', { port: probePort(), service: str() }),
  }, { oneOf: [['httpGet', 'tcpSocket', 'exec', 'grpc']] }),
});
