import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import type { CertificateAuthority } from '../../src/ca/index.js';
import { LiveCredentials } from '../../src/proxy/identity/credentials.js';
import { createKeyAndCsr } from '../../src/proxy/identity/csr.js';
import { describeTlsError, spiffeServerIdentityCheck, verifyPeerSocket, type PeerExpectation, type PeerVerdict } from '../../src/proxy/identity/verify.js';

/** Test harness for identity tests: workloads with CA-issued credentials and mTLS servers/clients that check SPIFFE ids. */

/** Issues fresh workload credentials the way a proxy gets them: key + CSR here, signature at the CA. */
export async function issue(ca: CertificateAuthority, namespace: string, serviceAccount: string) {
  const id = `spiffe://${ca.trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  const { keyPem, csrPem } = await createKeyAndCsr(id);
  const out = ca.signCsr(csrPem, { namespace, serviceAccount });
  return { keyPem, chainPem: out.chainPem, trustBundlePem: out.trustBundlePem, spiffeId: id, notBefore: out.notBefore, notAfter: out.notAfter };
}

/** A workload's live credentials. */
export async function workload(ca: CertificateAuthority, namespace: string, serviceAccount: string): Promise<LiveCredentials> {
  return new LiveCredentials(await issue(ca, namespace, serviceAccount));
}

/** An mTLS server that checks each client like an inbound STRICT listener and answers `hello PRINCIPAL`. */
export async function mtlsServer(live: LiveCredentials, expect: PeerExpectation): Promise<{ server: Server; port: number; verdicts: PeerVerdict[]; handshakeErrors: string[] }> {
  const verdicts: PeerVerdict[] = [];
  const handshakeErrors: string[] = [];
  const server = createServer(live.serverOptions(), (socket: TLSSocket) => {
    const v = verifyPeerSocket(socket, expect);
    verdicts.push(v);
    if (v.ok) socket.end(`hello ${v.principal}\n`);
    else socket.destroy();
  });
  live.attach(server);
  server.on('tlsClientError', (err) => handshakeErrors.push(describeTlsError(err).code));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, verdicts, handshakeErrors };
}

/** Connects with workload credentials, checking the server's SPIFFE id; resolves to what the server said or rejects with its error. */
export function mtlsCall(port: number, live: LiveCredentials, expect: PeerExpectation): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, secureContext: live.secureContext(), checkServerIdentity: spiffeServerIdentityCheck(expect) });
    let data = '';
    s.on('data', (d) => (data += d));
    s.on('error', reject);
    s.on('close', () => resolve(data));
  });
}
