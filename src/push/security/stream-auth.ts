/**
 * Who may speak on the push stream (docs/push-protocol.md "Authentication"): a proxy that presents
 * a workload certificate may only say hello for that identity; a TLS stream without one must prove
 * the hello's identity with a bootstrap token in its first CSR before anything is sent to it; a
 * certificate that is not this mesh's (self-signed, expired, another trust domain) is refused.
 */
import type { Socket } from 'node:net';
import { answerCsr, peerChainPem, type CertificateAuthority, type CertificateReply } from '../../ca/index.js';
import type { HelloMessage } from '../../proxy-config/wire.js';
import { formatSpiffeId } from '../../proxy-config/spiffe.js';
import type { CsrContext, HelloVerdict } from '../server/credential.js';

/** True for a socket that ran a TLS handshake (the 15012 listener). */
function isTls(socket: Socket): boolean {
  return typeof (socket as { getPeerCertificate?: unknown }).getPeerCertificate === 'function';
}

/** PushServerOptions.authenticate for a control plane with a CA. */
export function caStreamAuth(ca: CertificateAuthority | undefined): (socket: Socket, hello: HelloMessage) => HelloVerdict {
  return (socket, hello) => {
    if (!isTls(socket)) return { kind: 'none' };
    const authority = ca;
    if (!authority) return { kind: 'refused', reason: 'this control plane runs no CA: TLS streams cannot be authenticated' };
    const want = formatSpiffeId({ trustDomain: authority.trustDomain, namespace: String(hello.node?.namespace), serviceAccount: String(hello.node?.serviceAccount) });
    const chain = peerChainPem(socket);
    if (!chain) return { kind: 'token', identity: want };
    let id: string | undefined;
    try {
      id = authority.identityFromCertificate(chain);
    } catch {
      id = undefined;
    }
    if (!id) return { kind: 'refused', reason: 'the stream\'s client certificate is not a valid workload certificate of this mesh (self-signed, expired, or from another CA)' };
    return id === want ? { kind: 'certificate', identity: id } : { kind: 'refused', reason: `the stream's workload certificate is ${id}, but the hello speaks for ${want}` };
  };
}

/**
 * PushServerOptions.onCsr for a control plane with a CA. A connection that redeemed a token keeps
 * that identity for later CSRs on the same connection (the proxy renews before it reconnects with
 * its certificate); a new connection must present the certificate.
 */
export function caCsrAnswer(ca: CertificateAuthority | undefined): (msg: Record<string, unknown>, socket: Socket, ctx?: CsrContext) => Promise<CertificateReply | undefined> {
  const proven = new WeakMap<Socket, string>();
  return async (msg, socket, ctx) => {
    const authority = ca;
    if (!authority) return undefined;
    const reply = await answerCsr(authority, msg, socket, proven.get(socket), ctx?.expect !== undefined ? { expect: ctx.expect } : {});
    if (reply.certificateChain && typeof msg.token === 'string' && !proven.has(socket)) {
      const id = authority.identityFromCertificate(reply.certificateChain);
      if (id) {
        proven.set(socket, id);
        ctx?.onProven(id);
      }
    }
    return reply;
  };
}
