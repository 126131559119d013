/**
 * Who a push stream speaks for, and with which credential (docs/push-protocol.md "Authentication").
 * The server binds a proxy id to a stream only when the stream proved the hello's identity: its
 * workload certificate on the TLS port, a bootstrap token redeemed on this connection (first
 * contact), or nothing at all when the operator allowed plaintext streams (`--push-plaintext`).
 */
import type { Socket } from 'node:net';
import type { HelloMessage } from '../../proxy-config/wire.js';

/** How a stream proved which proxy it speaks for. */
export type StreamCredential = 'plaintext' | 'token' | 'certificate';

/** Order of credentials: a stream never displaces one with a higher number. */
export const CREDENTIAL_STRENGTH: Readonly<Record<StreamCredential, number>> = { plaintext: 1, token: 2, certificate: 3 };

/** What the authenticator says about a hello on a socket. */
export type HelloVerdict =
  /** A valid workload certificate of this mesh whose SPIFFE id is the hello's. */
  | { kind: 'certificate'; identity: string }
  /** No client certificate on a TLS stream: the stream may still prove `identity` with a bootstrap token in its first CSR. */
  | { kind: 'token'; identity: string }
  /** No credential can be presented on this socket (the plaintext port). */
  | { kind: 'none' }
  /** A credential that does not prove the hello's identity (self-signed, another identity, expired). */
  | { kind: 'refused'; reason: string };

/** Checks the credential a stream presents for a hello (src/push/security/stream-auth.ts implements it with the CA). Must not throw. */
export type StreamAuthenticator = (socket: Socket, hello: HelloMessage) => HelloVerdict;

/** What a CSR answer learnt: the SPIFFE id a bootstrap token proved on this connection. */
export interface CsrContext {
  /** The SPIFFE id the stream's hello speaks for (a token for another identity is refused and not spent). */
  expect?: string;
  /** Called when a token CSR on this connection proved `identity`. */
  onProven(identity: string): void;
}
