#!/usr/bin/env bash
# CI check of the benchmarks' output shape: runs each quick mode and checks the JSON fields exist.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
out=$(npm run --silent bench -- proxy --quick --json)
elapsed=$((SECONDS - t0))
have() { command -v "$1" >/dev/null 2>&1 && echo 1 || echo 0; }
HAVE_HAPROXY=$(have haproxy) HAVE_NGINX=$(have nginx) HAVE_H2LOAD=$(have h2load) HAVE_WRK=$(have wrk) ELAPSED=$elapsed node -e '
const r = JSON.parse(process.argv[1]);
const env = process.env;
// Every field the proxy issues name (3: HTTP/1.1, 4: protocols, 6: mTLS hop, 7: telemetry cost).
const bowline = ["bowline_cpu_us_per_req", "bowline_cpu_us_per_req_telemetry_off", "telemetry_cpu_overhead_pct", "direct_p99_ms", "proxy_p99_ms", "hop_p99_ms", "hop_added_p99_ms", "mtls_hop_p99_ms", "bowline_rss_mb", "tcp_hop_gbps", "idle_conns", "mtls_vs_hop_cpu_ratio", "load_average_start", "load_average_end"];
const needs = { haproxy_cpu_us_per_req: ["haproxy"], haproxy_hop_p99_ms: ["haproxy"], haproxy_hop_added_p99_ms: ["haproxy"], haproxy_idle_conn_kb: ["haproxy"],
  bowline_sat_cpu_us_per_req: ["wrk"], haproxy_sat_cpu_us_per_req: ["wrk", "haproxy"], bowline_vs_haproxy_sat_cpu_ratio: ["wrk", "haproxy"], bowline_idle_conn_kb: [], nginx_cpu_us_per_req: ["nginx"], haproxy_tcp_gbps: ["haproxy"], bowline_vs_haproxy_cpu_ratio: ["haproxy"],
  h2_cpu_us_per_req: ["h2load", "nginx"], h2_cpu_us_per_req_telemetry_off: ["h2load", "nginx"], node_h2_floor_cpu_us_per_req: ["h2load", "nginx"],
  haproxy_h2_cpu_us_per_req: ["h2load", "nginx", "haproxy"], h2_vs_haproxy_cpu_ratio: ["h2load", "nginx", "haproxy"] };
const missing = [...bowline, ...Object.keys(needs)].filter((k) => !(k in r));
if (missing.length) { console.error("bench smoke: missing fields: " + missing.join(", ")); process.exit(1); }
const installed = (t) => env["HAVE_" + t.toUpperCase()] === "1";
const mustBeNumbers = [...bowline, ...Object.keys(needs).filter((k) => needs[k].every(installed))];
const bad = mustBeNumbers.filter((k) => typeof r[k] !== "number");
if (bad.length) { console.error("bench smoke: not numbers: " + bad.map((k) => k + "=" + r[k]).join(", ")); process.exit(1); }
// The 60 s budget is a target, not a test: on a shared machine a slow run warns instead of failing CI.
if (Number(env.ELAPSED) > 60) console.error("bench smoke: WARNING: proxy --quick took " + env.ELAPSED + " s (budget 60 s)");
console.error("bench smoke: proxy JSON ok (" + mustBeNumbers.length + " numeric fields, quick run " + env.ELAPSED + " s)");
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
