# syntax=docker/dockerfile:1
#
# Template: your app, with tsgund from npm as its process manager. Copy this
# file to your project's root as `Dockerfile`, next to a package.json that has
# tsgund in "dependencies" and its lockfile, and a .dockerignore with at least
# `node_modules` and `.git`. The lockfile picks the package manager:
# pnpm-lock.yaml pnpm, yarn.lock yarn (Yarn 2+ with `nodeLinker: node-modules`
# in .yarnrc.yml), else npm (package-lock.json). pnpm and yarn come from
# corepack, at the version package.json's "packageManager" names. Then:
#
#   docker build -t my-app .
#   docker run --rm -p 8000:8000 -e WEB_CONCURRENCY=2 my-app
#   docker stop -t 45 CONTAINER   # TERM: in-flight requests finish (graceful timeout 30 s)
#
# Change CMD to your app's module (a .ts file runs as it is), or name `app` in
# a tsgund.config.ts and leave only the bind. The master is the container's
# PID 1: it reaps the processes your app orphans (prebuilt addon, no --init)
# and handles every signal. Workers: WEB_CONCURRENCY (default 1), or -w N.

ARG NODE_VERSION=24

# --- build: all dependencies, your build step if any, then only production ones ---
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
# no question before corepack downloads the package manager
ENV COREPACK_ENABLE_DOWNLOAD_PROMPT=0
# the lockfiles that are there (at least package.json matches)
COPY package.json package-lock.json* npm-shrinkwrap.json* pnpm-lock.yaml* yarn.lock* .yarnrc.yml* ./
# Node 25 and later no longer bundle corepack
RUN set -eu; \
  if [ -f pnpm-lock.yaml ] || [ -f yarn.lock ]; then \
    command -v corepack >/dev/null || npm install --global corepack; \
  fi; \
  if [ -f pnpm-lock.yaml ]; then corepack pnpm install --frozen-lockfile; \
  elif [ -f yarn.lock ]; then \
    if corepack yarn --version | grep -q '^1\.'; then corepack yarn install --frozen-lockfile; \
    else corepack yarn install --immutable; fi; \
  else npm ci; fi
COPY . .
RUN set -eu; \
  npm run build --if-present; \
  if [ -f pnpm-lock.yaml ]; then corepack pnpm prune --prod; \
  elif [ -f yarn.lock ]; then \
    if corepack yarn --version | grep -q '^1\.'; then corepack yarn install --frozen-lockfile --production; \
    else corepack yarn workspaces focus --all --production; fi; \
  else npm prune --omit=dev; fi; \
  npm cache clean --force

# --- runtime: slim, root-owned files, an unprivileged user ---
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
# The stats listener (/healthz, /readyz, /metrics) is set here, not in CMD, so
# the HEALTHCHECK below keeps working whatever CMD says. TSGUND_CMD_ARGS is
# below the command line and above a config file: keep --stats-bind in it if
# you set it at `docker run`. Another port: --build-arg STATS_PORT=N.
ARG STATS_PORT=9100
ENV TSGUND_STATS_PORT=${STATS_PORT}
ENV TSGUND_CMD_ARGS="--stats-bind=0.0.0.0:${STATS_PORT}"
WORKDIR /app
COPY --from=build /app ./
USER node
EXPOSE 8000 ${STATS_PORT}
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.TSGUND_STATS_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# exec form: node itself is PID 1 (not a shell, not npm)
ENTRYPOINT ["node", "node_modules/tsgund/dist/lib/cli/main.js", "start"]
CMD ["server.js", "--bind=0.0.0.0:8000", "--graceful-timeout=30", "--access-logfile=-"]
