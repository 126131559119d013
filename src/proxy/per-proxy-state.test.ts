// Two proxies in one process share no state: what one proxy remembers (warnings logged, names
// resolved) lives on its own ProxyContext, never in a module both load.
import { afterEach, describe, expect, it } from 'vitest';
import { oneRouteConfig } from './sample-config.js';
import { startProxy, type RunningProxy } from './proxy.js';

const proxies: RunningProxy[] = [];
afterEach(async () => { for (const p of proxies.splice(0)) await p.close(); });

/** A proxy whose cluster `up` has tls.insecureSkipVerify, and the lines it logged. */
async function insecureProxy(): Promise<{ p: RunningProxy; lines: string[] }> {
  const lines: string[] = [];
  const config = oneRouteConfig(1, (c) => { c.clusters[0]!.tls = { mode: 'SIMPLE', insecureSkipVerify: true }; });
  const p = await startProxy({ config, adminPort: 0, admin: false, log: (line) => lines.push(line) });
  proxies.push(p);
  return { p, lines };
}

const insecureWarnings = (lines: string[]): string[] => lines.filter((l) => l.includes('BOWLINE_E_TLS_INSECURE'));

describe('state of two proxies in one process', () => {
  it('each proxy warns once about a cluster with tls.insecureSkipVerify, however many configs it applies', async () => {
    const a = await insecureProxy();
    await a.p.applyConfig(a.p.current.config);
    const b = await insecureProxy();
    await b.p.applyConfig(b.p.current.config);
    expect(insecureWarnings(a.lines)).toHaveLength(1);
    expect(insecureWarnings(a.lines)[0]).toContain('cluster up has tls.insecureSkipVerify');
    // With one module-level set the second proxy never warned: its operator never learned that its upstream is unverified.
    expect(insecureWarnings(b.lines)).toHaveLength(1);
  });
});
