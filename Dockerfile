# ctloop API and workers (one image; docker-compose.yml picks the command).
# Runs the TypeScript sources with tsx, as `npm run api` / `npm run worker:*` do.

# Production dependencies only (tsx is one of them).
FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Sources, without whatever the build context brings along from a checkout.
FROM node:20-slim AS source
WORKDIR /app
COPY . .
RUN rm -rf node_modules .data .tools .git coverage dist

FROM node:20-slim
ENV NODE_ENV=production \
    CTLOOP_ARTIFACTS_DIR=/var/lib/ctloop/artifacts \
    CTLOOP_DATA_DIR=/var/lib/ctloop/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=source /app ./
# Named volumes mounted here inherit this ownership on first use.
RUN mkdir -p /var/lib/ctloop/artifacts /var/lib/ctloop/data && chown -R node:node /var/lib/ctloop
USER node
EXPOSE 3000
CMD ["npx", "tsx", "api/server.ts"]
