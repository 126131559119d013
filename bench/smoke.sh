#!/usr/bin/env bash
# CI check of the benchmarks' output shape: runs each quick mode and checks the JSON fields exist.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(npm run --silent bench -- proxy --quick --json)
node -e '
const r = JSON.parse(process.argv[1]);
const need = ["bowline_cpu_us_per_req", "bowline_cpu_us_per_req_telemetry_off", "telemetry_cpu_overhead_pct", "haproxy_cpu_us_per_req", "nginx_cpu_us_per_req", "direct_p99_ms", "proxy_p99_ms", "hop_p99_ms", "mtls_hop_p99_ms", "bowline_rss_mb"];
const missing = need.filter((k) => !(k in r));
if (missing.length) { console.error("bench smoke: missing fields: " + missing.join(", ")); process.exit(1); }
for (const k of ["bowline_cpu_us_per_req", "direct_p99_ms", "proxy_p99_ms", "hop_p99_ms", "mtls_hop_p99_ms", "bowline_rss_mb"]) {
  if (typeof r[k] !== "number") { console.error("bench smoke: " + k + " is not a number: " + r[k]); process.exit(1); }
}
console.error("bench smoke: proxy JSON ok");
' "$(printf '%s' "$out" | tail -1)"

ca_out=$(npm run --silent bench -- ca --quick --json)
node -e '
const r = JSON.parse(process.argv[1]);
for (const k of ["csr_per_s", "proxy_key_and_csr_ms", "token_create_per_s", "token_verify_per_s"]) {
  if (typeof r[k] !== "number" || !(r[k] > 0)) { console.error("bench smoke: ca " + k + " is not a positive number: " + r[k]); process.exit(1); }
}
console.error("bench smoke: ca JSON ok (csr_per_s " + r.csr_per_s + ")");
' "$(printf '%s' "$ca_out" | tail -1)"

push_out=$(npm run --silent bench -- push --quick --json)
node -e '
const r = JSON.parse(process.argv[1]);
for (const k of ["proxies", "services", "convergence_p50_ms", "convergence_p99_ms", "cp_rss_mb"]) {
  if (typeof r[k] !== "number" || !(r[k] >= 0)) { console.error("bench smoke: push " + k + " is not a number: " + r[k]); process.exit(1); }
}
console.error("bench smoke: push JSON ok (p99 " + r.convergence_p99_ms + " ms at " + r.proxies + " proxies)");
' "$(printf '%s' "$push_out" | tail -1)"
