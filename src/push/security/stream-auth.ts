/**
 * Who may speak on the push stream: a proxy that presents a workload certificate (the TLS
 * stream, after its first certificate) may only say hello for that identity. A proxy without one
 * (first contact, or the plaintext loopback stream) is not refused here: its certificate will
 * only ever carry what its bootstrap token allows.
 */
import type { Socket } from 'node:net';
import { answerCsr, peerChainPem, type CertificateAuthority, type CertificateReply } from '../../ca/index.js';
import type { HelloMessage } from '../../proxy-config/wire.js';

/** PushServerOptions.authenticate for a control plane with a CA. */
export function caStreamAuth(ca: () => CertificateAuthority | undefined): (socket: Socket, hello: HelloMessage) => string | undefined {
  return (socket, hello) => {
    const authority = ca();
    const chain = authority ? peerChainPem(socket) : undefined;
    const id = chain ? authority!.identityFromCertificate(chain) : undefined;
    if (!id) return undefined;
    const want = `spiffe://${authority!.trustDomain}/ns/${hello.node?.namespace}/sa/${hello.node?.serviceAccount}`;
    return id === want ? undefined : `the stream's workload certificate is ${id}, but the hello speaks for ${want}`;
  };
}

/**
 * PushServerOptions.onCsr for a control plane with a CA. A connection that redeemed a token keeps
 * that identity for later CSRs on the same connection (the proxy renews before it reconnects with
 * its certificate); a new connection must present the certificate.
 */
export function caCsrAnswer(ca: () => CertificateAuthority | undefined): (msg: Record<string, unknown>, socket: Socket) => Promise<CertificateReply | undefined> {
  const proven = new WeakMap<Socket, string>();
  return async (msg, socket) => {
    const authority = ca();
    if (!authority) return undefined;
    const reply = await answerCsr(authority, msg, socket, proven.get(socket));
    if (reply.certificateChain && typeof msg.token === 'string') {
      const id = authority.identityFromCertificate(reply.certificateChain);
      if (id) proven.set(socket, id);
    }
    return reply;
  };
}
