# syntax=docker/dockerfile:1
#
# mcp-warden as a gateway (`serve`). The config is read from /etc/mcp-warden/config.yaml (mount it); the audit
# database, signing key, pins and upstream tokens live in the /data volume. Runs as a non-root user and works with
# a read-only root file system:
#
#   docker build -t mcp-warden .
#   docker run --read-only --tmpfs /tmp -p 8080:8080 \
#     -v warden-data:/data -v "$PWD/gateway.yaml:/etc/mcp-warden/config.yaml:ro" mcp-warden
#
# Inside a container the gateway must listen on 0.0.0.0 (listen.host), which needs `auth` in the config (or
# --insecure-no-auth when something in front authenticates). The health check assumes port 8080.

ARG NODE_IMAGE=node:20-bookworm-slim

# ── build: compile TypeScript and the native addons (better-sqlite3, re2) with node-gyp; prebuild packs and schemas ──
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The build also checks the bundled redaction packs and compiles the shipped schemas (scripts/build-assets.mjs).
COPY scripts ./scripts
COPY rules ./rules
COPY schemas ./schemas
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ── runtime: the compiled CLI, production dependencies and data files; no compiler, no sources ──
FROM ${NODE_IMAGE}
# Young generation of 4 MiB semi-spaces (given here, it replaces serve's own 1 MiB; serve's growth of the old
# generation stays): the lowest peak with large results, about 30 MB under Node's default (docs/operations.md,
# "Memory"; docs/benchmarks.md).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=4 \
    MCP_WARDEN_CONFIG=/etc/mcp-warden/config.yaml \
    MCP_WARDEN_STATE_DIR=/data \
    MCP_WARDEN_NO_KEYCHAIN=1 \
    HOME=/data
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json README.md SECURITY.md LICENSE ./
COPY rules ./rules
COPY audit ./audit
COPY schemas ./schemas
COPY examples ./examples
RUN mkdir -p /data /etc/mcp-warden \
 && chown node:node /data \
 && chmod 0700 /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/cli/index.js"]
CMD ["serve"]
