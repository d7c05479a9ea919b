# jitbot's production image. Build: docker build -t jitbot .   Run: see compose.yaml and docs/deploy.md.
# test/repo/image.test.ts reads this file and does what the runtime stage does (without Docker), so
# keep its instructions to COPY, RUN npm ci, ENV, WORKDIR, USER, EXPOSE, HEALTHCHECK and CMD.
ARG NODE_VERSION=22

# Build stage: every dependency, including the compiler, to turn src/ into dist/. The build also
# runs PGlite's initdb once (dist/pgdata-template, ~40 MB), so a first start copies a database instead.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-if-changed.cjs ./scripts/
COPY cards ./cards
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies only, no install scripts, no compiler, no tests.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# A folder inside the volume, not the mount point itself: a first PGlite start builds the database
# beside it and renames it into place.
ENV NODE_ENV=production \
    JITBOT_DATA_DIR=/data/jitbot
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Local mode's console page and simulated world, so `docker run` alone can show the bot.
COPY src/console/public ./src/console/public
COPY examples ./examples
# The code stays root's and read-only; the bot may write only its data directory (PGlite, when no
# DATABASE_URL is set; with one, the directory stays empty).
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3978
# /healthz says the process is alive; orchestrators should use /readyz for traffic (docs/deploy.md).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3978)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# V8 lets garbage pile up to several times the live heap (~90 MB) under load before it collects:
# 550 MB peak during 10,000 expiries a minute against ~265 MB with these limits, at the same lateness
# (bench/RESULTS.md). Raise them, or drop them, with NODE_OPTIONS at `docker run`.
ENV NODE_OPTIONS="--max-semi-space-size=16 --max-old-space-size=192"
# Exec form: node is PID 1 and gets SIGTERM itself, so shutdown drains work and gives back job leases.
CMD ["node", "--disable-warning=DEP0111", "dist/src/main.js"]
