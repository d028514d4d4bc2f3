# ssec-gateway container image: multi-stage, production dependencies only, non-root.
#
#   docker build -t ssec-gateway:0.1.0 .
#   podman run --read-only --tmpfs /var/lib/ssec-gateway:U -p 8443:8443 -p 9464:9464 ssec-gateway:0.1.0 \
#     serve --host 0.0.0.0 --admin-host 0.0.0.0 --upstream http://rgw:7480
# (with --read-only, /var/lib/ssec-gateway must be a writable mount owned by uid 10001)
#
# BASE_IMAGE: any Debian-based Node.js 20 image with node and npm in /usr/local/bin (the official
# node image layout). Pin it by digest for production builds:
#   --build-arg BASE_IMAGE=node:20-bookworm-slim@sha256:<digest>
ARG BASE_IMAGE=node:20-bookworm-slim

# ---- production dependencies only ------------------------------------------------------------
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force

# ---- compile TypeScript ----------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime ---------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# without tls.cert/tls.key the gateway makes a self-signed certificate with the openssl CLI, which
# the slim node images lack
RUN command -v openssl >/dev/null \
  || { apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*; }
# the state directory (self-signed certificate, generated fingerprint secret) is the only place
# the gateway writes; mount a volume or tmpfs there when the root filesystem is read-only
RUN mkdir -p /var/lib/ssec-gateway /etc/ssec-gateway \
  && chown 10001:10001 /var/lib/ssec-gateway \
  && chmod 0700 /var/lib/ssec-gateway
USER 10001:10001
EXPOSE 8443 9464
# the admin listener's /healthz; set SSEC_HEALTHCHECK_URL when listen.adminPort is not 9464
ENV SSEC_HEALTHCHECK_URL=http://127.0.0.1:9464/healthz
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.SSEC_HEALTHCHECK_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/ssec-gateway.js"]
# flags override the config file; Kubernetes manifests replace these args with `serve --config …`
CMD ["serve", "--host", "0.0.0.0", "--admin-host", "0.0.0.0", "--state-dir", "/var/lib/ssec-gateway"]
