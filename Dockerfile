# syntax=docker/dockerfile:1
# The Bowline image: the `bowline` CLI (control plane, proxy, capture) and, as a second target, the
# Bookinfo sample apps. Not built in this repository's CI (no container engine there); the
# Kubernetes manifests take its name as a value (global.hub / global.tag -> HUB/bowline:TAG).
#
#   docker build -t bowline/bowline:0.1.0 .
#   docker build --target bookinfo -t bowline/bookinfo:0.1.0 .
#
# Runtime needs: Node 20, iptables (the injected istio-init container runs `bowline capture install`
# with NET_ADMIN/NET_RAW), and the SO_ORIGINAL_DST addon compiled at npm install (native/).

FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY native ./native
COPY scripts ./scripts
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build && node scripts/build-native.mjs && npm prune --omit=dev

FROM node:20-bookworm-slim AS bowline
RUN apt-get update && apt-get install -y --no-install-recommends iptables ca-certificates && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 1337 bowline-proxy && useradd --system --uid 1337 --gid 1337 --no-create-home --shell /usr/sbin/nologin bowline-proxy
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/native ./native
COPY --from=build /app/docs ./docs
COPY --from=build /app/samples ./samples
RUN ln -s /app/bin/bowline /usr/local/bin/bowline
# The control plane and proxies run as 1337 (the manifests say so too); istio-init runs as root with
# only NET_ADMIN and NET_RAW.
USER 1337:1337
# 15000 admin (loopback), 15001/15006 capture, 15012 push, 15014 API, 15017 webhooks, 15021 health, 15090 metrics
EXPOSE 15012 15014 15017 15021 15090
ENTRYPOINT ["bowline"]
CMD ["--help"]

FROM bowline AS bookinfo
# The sample apps run from /app/dist/samples (samples/kubernetes/bookinfo.yaml names these paths).
USER 1000:1000
ENTRYPOINT []
CMD ["node", "/app/dist/samples/bookinfo/productpage.js", "--port", "9080"]
