/**
 * The push server as the control plane runs it (step 5 of src/control/control-plane.ts): the
 * plaintext stream on `--listen-push`, with a CA also the TLS stream (Istio's 15012) whose serving
 * certificate comes from the mesh root, CSRs answered over both, and WorkloadGroup auto-registration.
 */
import type { CertificateAuthority } from '../ca/index.js';
import { createTlsStreamServer } from '../ca/index.js';
import type { MeshController } from '../mesh/controller.js';
import { parseListen } from '../proxy-config/host-port.js';
import type { UniversalRegistry } from '../registry/universal/universal.js';
import type { Store } from '../store/store.js';
import { AutoRegistrar } from './autoregister.js';
import { caCsrAnswer, caStreamAuth } from './security/stream-auth.js';
import { PushServer } from './server/server.js';

/** What the push server is started with. */
export interface PushSettings {
  store: Store;
  controller: MeshController;
  /** Where proxies' workload announcements go. */
  universal: UniversalRegistry;
  /** The CA: authenticates TLS streams, answers CSRs, serves the TLS stream; absent: neither. */
  ca?: CertificateAuthority;
  /** HOST:PORT of the plaintext stream. */
  listen: string;
  /** HOST:PORT of the TLS stream (served when there is a CA). */
  listenTls?: string;
  /** Accept streams without a credential (loopback only). */
  plaintext?: boolean;
  /** Lease of an auto-registered WorkloadEntry. */
  registrationTtlMs: number;
  log(line: string): void;
}

/** The running push server: bound ports, and what stops it. */
export interface RunningPush {
  server: PushServer;
  ports: { push: number; pushTls?: number };
  close(): Promise<void>;
}

/** Starts the push server (and the TLS stream with a CA); rejects when the plaintext port cannot be bound. */
export async function startPushServer(s: PushSettings): Promise<RunningPush> {
  const listen = parseListen(s.listen, '--listen-push');
  if (s.plaintext && !/^(127\.|::1$|::ffff:127\.|localhost$)/.test(listen.host)) {
    throw new Error(`push: plaintext proxy streams (--push-plaintext) are allowed on a loopback address only, not ${listen.host}`);
  }
  const autoRegister = new AutoRegistrar(s.store, { ttlMs: s.registrationTtlMs, log: (l) => s.log(l) });
  await autoRegister.start();
  const server = new PushServer({
    source: s.controller,
    universal: s.universal,
    autoRegister,
    log: (level, msg, fields) => s.log(`push ${level}: ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}`),
    // On the TLS stream, a proxy presenting a workload certificate may only speak for that identity.
    authenticate: caStreamAuth(s.ca),
    onCsr: caCsrAnswer(s.ca),
    allowPlaintext: s.plaintext === true,
  });
  const stops: Array<() => void> = [];
  const close = async () => {
    for (const stop of stops.reverse()) stop();
    await server.close(); // also closes the TLS streams
    autoRegister.stop();
  };
  try {
    const addr = await server.listen(listen.port, listen.host);
    const ports: RunningPush['ports'] = { push: addr.port };
    s.log(`push: proxy stream on ${listen.host}:${addr.port}${s.plaintext ? ' (plaintext proxies accepted: --push-plaintext)' : ' (every proxy proves its identity: certificate or bootstrap token)'}`);
    const ca = s.ca;
    if (ca && s.listenTls) {
      const t = parseListen(s.listenTls, '--listen-push-tls');
      const tlsServer = createTlsStreamServer(ca, (sock) => server.attach(sock), { ips: ['127.0.0.1', '::1', ...(/^[\d.]+$|:/.test(t.host) && t.host !== '0.0.0.0' && t.host !== '::' ? [t.host] : [])] });
      tlsServer.on('tlsClientError', () => {});
      try {
        await new Promise<void>((resolve, reject) => { tlsServer.once('error', reject); tlsServer.listen(t.port, t.host, () => resolve()); });
        ports.pushTls = (tlsServer.address() as { port: number }).port;
        s.log(`push: TLS proxy stream on ${t.host}:${ports.pushTls} (certificates for proxies with --token-file)`);
      } catch (err) {
        // A busy 15012 (another control plane on this host) costs the TLS stream, not the control plane.
        tlsServer.stopRenewal();
        s.log(`push warn: TLS proxy stream not served on ${s.listenTls}: ${(err as Error).message}; pass --listen-push-tls 127.0.0.1:0 for an ephemeral port`);
      }
      // Root rotation steps change the trust bundle: every proxy gets it at once (not only at its next renewal).
      const unsubCa = ca.onChange(() => server.broadcast({ type: 'certificate', requestId: '', rootCerts: ca.trustBundlePem() }));
      stops.push(() => { unsubCa(); tlsServer.stopRenewal(); tlsServer.close(); });
    }
    return { server, ports, close };
  } catch (err) {
    await close();
    throw err;
  }
}
