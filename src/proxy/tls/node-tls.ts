/**
 * `node:tls`, required the first time the proxy makes a TLS context or socket. A proxy with no
 * TLS listener, cluster or secret never loads node's TLS modules (`_tls_wrap`, `_tls_common`, the
 * secure-context code they touch in the node binary): ~1 MB of RSS (docs/performance.md, Memory).
 */
import { createRequire } from 'node:module';
import type * as Tls from 'node:tls';

let loaded: typeof Tls | undefined;

/** The `node:tls` module, loaded on first call. */
export function nodeTls(): typeof Tls {
  return (loaded ??= createRequire(import.meta.url)('node:tls') as typeof Tls);
}
