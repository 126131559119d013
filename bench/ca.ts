/**
 * `npm run bench -- ca [--quick] [--json]`: the CA's signing rate on one core. Signs workload
 * certificates from pre-made CSRs (each verified, identity checked, encoded, signed) for a fixed
 * count, and reports `csr_per_s` (target >= 500) plus what surrounds it: the proxy's key + CSR
 * generation, bootstrap token minting and verification, and root creation.
 */
import { CertificateAuthority, MemoryCaStorage, parseKek, verifyBootstrapToken } from '../src/ca/index.js';
import { createKeyAndCsr } from '../src/proxy/identity/csr.js';

interface Opts { quick: boolean; json: boolean }

/** Runs `fn` `n` times and returns operations per second of CPU time (one core). */
async function rate(n: number, fn: (i: number) => unknown | Promise<unknown>): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(i);
  const used = process.cpuUsage(start);
  return n / ((used.user + used.system) / 1e6);
}

/** The `ca` benchmark entry point (bench/main.ts). */
export async function benchCa(o: Opts): Promise<void> {
  const signs = o.quick ? 300 : 5000;
  const t0 = performance.now();
  const ca = await CertificateAuthority.open({ storage: new MemoryCaStorage(), kek: parseKek(Buffer.alloc(32, 1), 'bench') });
  const rootMs = performance.now() - t0;
  const csrs = await Promise.all(Array.from({ length: 32 }, (_, i) => createKeyAndCsr(`spiffe://cluster.local/ns/bench/sa/sa${i}`)));
  for (let i = 0; i < 50; i++) ca.signCsr(csrs[i % 32]!.csrPem, { namespace: 'bench', serviceAccount: `sa${i % 32}` }); // warm-up

  const wallStart = performance.now();
  const csrPerS = await rate(signs, (i) => ca.signCsr(csrs[i % 32]!.csrPem, { namespace: 'bench', serviceAccount: `sa${i % 32}` }));
  const wallPerS = signs / ((performance.now() - wallStart) / 1000);
  const keygen = o.quick ? 30 : 300;
  const keygenPerS = await rate(keygen, (i) => createKeyAndCsr(`spiffe://cluster.local/ns/bench/sa/k${i}`));
  const tokens = o.quick ? 500 : 20000;
  const minted: string[] = [];
  const mintPerS = await rate(tokens, () => minted.push(ca.createToken({ ns: 'bench', sa: 'x', ttlMs: 3600_000 }).token));
  const key = (ca as unknown as { tokenKey: Buffer }).tokenKey;
  const verifyPerS = await rate(tokens, (i) => verifyBootstrapToken(minted[i]!, key));

  const result = {
    csr_per_s: Math.round(csrPerS),
    csr_per_s_wall: Math.round(wallPerS),
    signs,
    proxy_key_and_csr_ms: +(1000 / keygenPerS).toFixed(2),
    token_create_per_s: Math.round(mintPerS),
    token_verify_per_s: Math.round(verifyPerS),
    root_create_ms: +rootMs.toFixed(1),
    target_csr_per_s: 500,
  };
  if (o.json) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    process.stdout.write(`CA signing: ${result.csr_per_s} CSR/s per core (${signs} signs; wall ${result.csr_per_s_wall}/s; target >= 500)\n`);
    process.stdout.write(`proxy key + CSR: ${result.proxy_key_and_csr_ms} ms; tokens: ${result.token_create_per_s}/s minted, ${result.token_verify_per_s}/s verified; root: ${result.root_create_ms} ms\n`);
  }
}
