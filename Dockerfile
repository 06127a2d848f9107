# Caviar as a container: a build stage compiles the addon (C++ on OpenBLAS) and the
# TypeScript; the runtime stage has the OpenBLAS runtime, production node_modules and the
# compiled output only, runs as a non-root user, and keeps its data in the /data volume.

FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake g++ make python3 libopenblas-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# better-sqlite3 compiles from source, as everything else here: no prebuilt binaries.
ENV npm_config_build_from_source=true
COPY package.json package-lock.json CMakeLists.txt binding.gyp tsconfig.json tsconfig.build.json ./
COPY native ./native
COPY src ./src
COPY bench ./bench
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf build/CMakeFiles

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0 tini \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir /data && chown node:node /data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/build/Release/caviar.node ./build/Release/caviar.node
COPY --from=build /app/src/server/dashboard ./src/server/dashboard
COPY examples ./examples
# Every interface of the container: the service's own default is loopback, which -p cannot reach.
ENV NODE_ENV=production CAVIAR_DATA_DIR=/data CAVIAR_HOST=0.0.0.0 CAVIAR_PORT=8080
VOLUME /data
EXPOSE 8080
USER node
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini is PID 1: it passes SIGTERM on to node, whose graceful shutdown then runs.
ENTRYPOINT ["tini", "--"]
CMD ["node", "dist/src/cli.js", "serve"]
