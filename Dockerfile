# syntax=docker/dockerfile:1
#
# tollgate container image.
#
#   docker build -t tollgate:0.1.0 .
#   docker run --rm -p 8080:8080 -p 9090:9090 \
#     -v "$PWD/config:/etc/tollgate:ro" -e DEV_HS_SECRET=... tollgate:0.1.0
#
# The image expects the gateway YAML at /etc/tollgate/gateway.yaml (the Helm chart mounts a
# ConfigMap there). The audit trail's file sink must write outside that (read-only) directory: set
# `audit: { file: { dir: /var/lib/tollgate/audit } }` and mount a volume there (the chart does both). The repo's config/ is copied to /app/config as examples only. Listeners must
# bind 0.0.0.0 in the YAML, not 127.0.0.1, or nothing outside the container can reach them.
#
# Base images are pinned by tag. For reproducible, tamper-evident builds pin by digest as well,
# e.g. `FROM node:24-bookworm-slim@sha256:<digest> AS build`, and let a bot (Renovate,
# Dependabot) bump it; the tag alone moves whenever Docker Hub rebuilds it.

# ---- deps: production dependencies only ---------------------------------------------------
# A stage of its own so this layer is rebuilt only when the lockfile changes, and so no
# devDependency (typescript, vitest, oidc-provider...) can reach the runtime image.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund

# ---- build: full install, compile TypeScript to dist/ -------------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts/build-policy-runtime.mjs ./scripts/
RUN npm run build

# ---- runtime ------------------------------------------------------------------------------
FROM node:24-bookworm-slim AS runtime

LABEL org.opencontainers.image.title="tollgate" \
      org.opencontainers.image.description="Reverse-proxy API gateway: bearer tokens, rate limits, Rego policy, tamper-evident audit" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric UID/GID, so Kubernetes' runAsNonRoot can verify it without reading
# /etc/passwd, and so it matches runAsUser in the Helm chart. The passwd entry exists only so
# that os.userInfo() and friends do not throw.
RUN groupadd --system --gid 10001 tollgate \
 && useradd --system --uid 10001 --gid tollgate --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin tollgate

ENV NODE_ENV=production
WORKDIR /app

# Only what the gateway needs at run time. The files stay owned by root, so the (non-root)
# process cannot modify its own code even where the root filesystem is writable.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
COPY policy ./policy
# The audit file sink's directory (config: audit.file.dir), writable by the gateway user only.
RUN mkdir -p /var/lib/tollgate/audit && chown 10001:10001 /var/lib/tollgate/audit && chmod 0750 /var/lib/tollgate/audit

USER 10001:10001

# 8080: public listener; 9090: admin listener (/metrics, /healthz, /readyz).
EXPOSE 8080 9090

# Docker/Compose only: Kubernetes ignores HEALTHCHECK and uses the chart's probes. The slim
# image has no curl or wget, so node itself does the request (global fetch, Node >= 18).
# Override TOLLGATE_HEALTHCHECK_URL if the admin listener is moved.
ENV TOLLGATE_HEALTHCHECK_URL=http://127.0.0.1:9090/healthz
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.TOLLGATE_HEALTHCHECK_URL, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: node is PID 1 and receives SIGTERM itself (a shell-form ENTRYPOINT would wrap it
# in /bin/sh -c, which does not forward signals), so the gateway's shutdownGraceMs drain runs.
# The gateway spawns no child processes, so PID 1 needs no zombie reaping (no tini needed).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["start", "--config", "/etc/tollgate/gateway.yaml"]
