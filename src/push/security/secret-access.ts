/**
 * Who may receive secret material over the push stream (private keys, gateway credentials from
 * `credentialName`): only a proxy whose stream proved its workload identity (a workload certificate
 * or a bootstrap token, never a plaintext stream), and only for a resource that selects its workload.
 * Generators that inline key material call this for each proxy and leave the secret out otherwise.
 */
import type { ProxyInfo } from '../generators/generator.js';

/**
 * True when `proxy` may receive the key material of a Gateway or DestinationRule that does
 * (`selected`) or does not select it. A proxy with no recorded credential is one generated outside
 * a stream (a config dump, a generator test) and is judged by selection alone.
 */
export function secretsAllowed(proxy: ProxyInfo, selected: boolean): boolean {
  if (!selected) return false;
  return proxy.credential === undefined || proxy.credential === 'certificate' || proxy.credential === 'token';
}
