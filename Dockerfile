# Urapolku: the bot in a container. `docker build -t urapolku .` then, for example,
#   docker run --env-file .env -p 8080:8080 urapolku urapolku run --webhook --workers 2
# The environment is described in docs/DEPLOY.md (PostgreSQL, Redis, webhook, DATA_KEY).
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY db ./db
RUN python -m venv /opt/urapolku \
    && /opt/urapolku/bin/pip install --upgrade pip \
    && /opt/urapolku/bin/pip install ".[scale]"


FROM python:3.11-slim

ENV PATH=/opt/urapolku/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WEBHOOK_HOST=0.0.0.0 \
    WEBHOOK_PORT=8080 \
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
# In webhook mode GET /healthz answers 200 while the database does (see docs/DEPLOY.md for a
# health check); long polling serves no HTTP, so the image declares none.

# Long polling by default; webhook mode (one or several workers) by command, e.g.
#   urapolku run --webhook --workers 4
CMD ["urapolku", "run", "--no-chat-fallback"]
