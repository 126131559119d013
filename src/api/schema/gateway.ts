import { arr, bool, en, map, obj, req, str } from './dsl.js';
import { portNumber } from './common.js';
import * as f from './formats.js';

const tlsVersion = en('TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3');

/** Server-side TLS settings (Gateway servers and Sidecar ingress). */
export const serverTls = obj('ServerTLSSettings', {
  httpsRedirect: bool(),
  mode: en('PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'),
  serverCertificate: str(),
  privateKey: str(),
  caCertificates: str(),
  caCrl: str(),
  credentialName: str(),
  credentialNames: arr(str()),
  caCertCredentialName: str(),
  insecureSkipVerify: bool(),
  tlsCertificates: arr(obj('TLSCertificate', { serverCertificate: str(), privateKey: str(), caCertificates: str() })),
  subjectAltNames: arr(str()),
  verifyCertificateSpki: arr(str()),
  verifyCertificateHash: arr(str()),
  minProtocolVersion: tlsVersion,
  maxProtocolVersion: tlsVersion,
  cipherSuites: arr(str()),
  ecdhCurves: arr(str()),
}, {
  check: (o, path, ctx) => {
    const mode = o.mode ?? 'PASSTHROUGH';
    const set = (k: string) => o[k] !== undefined && o[k] !== null;
    const creds = ['credentialName', 'credentialNames', 'tlsCertificates'].filter(set);
    if (creds.length > 1) ctx.add({ code: 'BOWLINE_E_API_ONEOF', path: [...path, creds[1]!], atKey: true, message: `only one of credentialName, credentialNames and tlsCertificates may be set, got ${creds.join(' and ')}` });
    if (Array.isArray(o.credentialNames) && (o.credentialNames.length < 1 || o.credentialNames.length > 2)) ctx.add({ code: 'BOWLINE_E_API_RANGE', path: [...path, 'credentialNames'], atKey: true, message: `credentialNames holds ${o.credentialNames.length} names: expected 1 or 2 (e.g. an RSA and an ECDSA certificate)` });
    const hasCreds = o.credentialName || (Array.isArray(o.credentialNames) && o.credentialNames.length) || (Array.isArray(o.tlsCertificates) && o.tlsCertificates.length);
    if ((mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') && !hasCreds && (!o.serverCertificate || !o.privateKey)) {
      ctx.add({ code: 'BOWLINE_E_API_TLS', path, message: `tls mode ${String(mode)} needs credentialName, or serverCertificate and privateKey` });
    }
  },
});

/** A port of a Gateway server. */
export const port = obj('Port', { number: req(portNumber()), protocol: req(str(f.protocol)), name: str(), targetPort: portNumber() });

const server = obj('Server', {
  port: req(port),
  bind: str(),
  hosts: req(arr(str(f.gatewayHost))),
  tls: serverTls,
  defaultEndpoint: str(),
  name: str(),
}, {
  check: (o, path, ctx) => {
    const proto = typeof (o.port as { protocol?: unknown })?.protocol === 'string' ? String((o.port as { protocol: string }).protocol).toUpperCase() : '';
    const tls = o.tls as { mode?: string; httpsRedirect?: boolean } | undefined;
    if ((proto === 'HTTPS' || proto === 'TLS') && !tls) {
      ctx.add({ code: 'BOWLINE_E_API_TLS', path, message: `a ${proto} server needs tls settings (e.g. tls: {mode: SIMPLE, credentialName: ...})` });
    }
    if (proto === 'HTTP' && tls && tls.mode && !tls.httpsRedirect) {
      ctx.add({ severity: 'warning', code: 'BOWLINE_W_API_TLS_IGNORED', path: [...path, 'tls'], atKey: true, message: 'tls settings on a plain HTTP server are ignored except httpsRedirect' });
    }
  },
});

/** spec of a Gateway. */
export const gatewaySpec = obj('GatewaySpec', { servers: req(arr(server)), selector: map(str()) }, {
  check: (o, path, ctx) => {
    if (!Array.isArray(o.servers)) return;
    const names = new Map<string, number>();
    o.servers.forEach((s, i) => {
      const n = (s as { name?: unknown } | null)?.name;
      if (typeof n !== 'string') return;
      if (names.has(n)) ctx.add({ code: 'BOWLINE_E_API_DUPLICATE_NAME', path: [...path, 'servers', i, 'name'], message: `server name "${n}" is used twice (servers[${names.get(n)}])` });
      names.set(n, i);
    });
  },
});

