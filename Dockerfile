# Urapolku: the bot in a container. `docker build -t urapolku .` then, for example,
#   docker run --env-file .env -p 8080:8080 urapolku urapolku run --webhook --workers 2
# or the bot with PostgreSQL and Redis: `docker compose up -d` (compose.yaml).
# The environment is described in docs/DEPLOY.md (PostgreSQL, Redis, webhook, DATA_KEY).
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# the exact versions CI tested, with their hashes (make lock; docs/DEPLOY.md)
COPY requirements-deploy.lock ./
RUN python -m venv /opt/urapolku \
    && /opt/urapolku/bin/pip install --upgrade pip \
    && /opt/urapolku/bin/pip install --require-hashes -r requirements-deploy.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY db ./db
RUN /opt/urapolku/bin/pip install --no-deps .


FROM python:3.11-slim

ENV PATH=/opt/urapolku/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WEBHOOK_HOST=0.0.0.0 \
    WEBHOOK_PORT=8080 \
    HEALTH_HOST=0.0.0.0 \
    HEALTH_PORT=8080 \
    LOG_FORMAT=json

RUN groupadd --system urapolku \
    && useradd --system --gid urapolku --home-dir /app --shell /usr/sbin/nologin urapolku
COPY --from=build /opt/urapolku /opt/urapolku
WORKDIR /app
# the content the bot serves (dialogs/ and content/ are read relative to /app)
COPY --chown=root:root dialogs ./dialogs
COPY --chown=root:root content ./content
# SQLite (the default DATABASE_URL) and the development data key live here
RUN mkdir -p /app/data && chown urapolku:urapolku /app/data
VOLUME ["/app/data"]

USER urapolku
EXPOSE 8080
# GET /healthz on port 8080 in both modes: in webhook mode on the webhook's port, in polling
# mode on HEALTH_PORT (set above). 200 while the database answers and, when polling, updates
# are fetched; the start period covers the schema migration at start.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# Long polling by default; webhook mode (one or several workers) by command, e.g.
#   urapolku run --webhook --workers 4
CMD ["urapolku", "run", "--no-chat-fallback"]
