# cmf-sage sidecar image. Multi-arch (linux/amd64, linux/arm64 for Jetson
# nodes): every dependency is pure JavaScript/WebAssembly (sql.js ships its
# SQLite as wasm), so the build stage runs on the build platform and its
# output is copied unchanged into the target-platform runtime image:
#   docker buildx build --platform linux/amd64,linux/arm64 -t cmf-sage .
# .ci/docker-steps runs the same steps outside Docker in CI.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY bin ./bin
RUN ln -s /app/bin/cmf-sage /usr/local/bin/cmf-sage
# The node image's unprivileged user; mount the workspace and results folder
# so that this user can write the workspace and read the results.
USER node
WORKDIR /data
ENTRYPOINT ["cmf-sage"]
CMD ["--help"]
