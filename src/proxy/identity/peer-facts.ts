/**
 * What the inbound request path derives from a connection's verified peer identity (the SPIFFE id
 * checked once per connection at the handshake, tls/downstream.ts `checkPeer`): the
 * x-forwarded-client-cert value (`By=SELF;URI=PEER`, Envoy's sanitize_set with Istio's fields)
 * and the principal authorization matches (`TD/ns/NS/sa/SA`). Both depend only on the peer's id
 * and the proxy's own id, never on the request, so they are made once per (own id, peer id) and
 * handed back as the same strings to every request of every connection with that peer: no string
 * built and no regular expression run per request, and a written-out header line or a metric
 * label keyed by the value finds the string's hash already computed.
 */
import { principalOfPeer } from '../authz/slot.js';

/** The per-peer facts of inbound requests. */
export interface PeerFacts {
  /** The peer's SPIFFE id ('' for a plaintext peer). */
  readonly peer: string;
  /** x-forwarded-client-cert's value; '' for a plaintext peer (no header is set). */
  readonly xfcc: string;
  /** The principal authorization sees; undefined for a plaintext peer or an id that is not a SPIFFE id (fails closed). */
  readonly principal: string | undefined;
}

/** Peers remembered per own id; past this the cache starts over (ids come from certificates the mesh root signed). */
export const PEER_FACTS_LIMIT = 1024;

const PLAIN: PeerFacts = { peer: '', xfcc: '', principal: undefined };

/** One proxy's peer facts (ProxyContext.peerFacts): its own id, the last peer asked for, the peers it has seen. */
export class PeerFactsCache {
  private self = '';
  private last: PeerFacts = PLAIN;
  private readonly known = new Map<string, PeerFacts>();

  /** The facts for requests from `peer` ('' = plaintext) to this proxy, whose own SPIFFE id is `own`. */
  of(own: string, peer: string): PeerFacts {
    if (peer === '') return PLAIN;
    if (own !== this.self) { this.self = own; this.known.clear(); this.last = PLAIN; }
    else if (this.last.peer === peer) return this.last;
    const known = this.known;
    let f = known.get(peer);
    if (f === undefined) {
      if (known.size >= PEER_FACTS_LIMIT) known.clear();
      f = { peer, xfcc: `By=${own};URI=${peer}`, principal: principalOfPeer(peer) };
      known.set(peer, f);
    }
    this.last = f;
    return f;
  }
}
