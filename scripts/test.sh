#!/usr/bin/env bash
# The one test command (README): installs what the tests need, then runs every test.
# Debian packages: real servers the tests start on loopback (etcd, Prometheus, Chromium,
# haproxy, nginx, wrk, h2load, curl, openssl), iptables and iproute2 (transparent capture in network
# namespaces), systemd-analyze (VM unit check), faketime (libfaketime: a proxy whose host clock is off).
# Installed only when missing; needs root or sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in etcd:etcd-server etcdctl:etcd-client prometheus:prometheus chromium:chromium \
            nginx:nginx-light haproxy:haproxy wrk:wrk h2load:nghttp2-client curl:curl dig:dnsutils openssl:openssl \
            iptables:iptables ip:iproute2 systemd-analyze:systemd faketime:faketime; do
  bin=${pair%%:*}; pkg=${pair#*:}
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

[ -d node_modules ] || npm install --no-audit --no-fund
npm run --silent build
npm run --silent lint
npx tsc --noEmit -p tsconfig.json
npx vitest run --project unit
# The Kubernetes e2e files run a real kube-apiserver and kube-controller-manager: built from Go modules into
# ~/.cache/bowline/kube/VERSION only when missing (the first cold build takes 15-25 min; later runs print the path).
bash test/kube/build.sh
npx vitest run --project e2e
# The fault suite (test/faults): each case prints a FIGURE line (requests, failures, objects lost).
npx vitest run --project faults
# Benchmarks are not tests; CI only checks that their quick mode still produces its JSON.
if [ -f bench/smoke.sh ]; then bash bench/smoke.sh; fi
