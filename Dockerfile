# syntax=docker/dockerfile:1
# Gatehouse image: locked, hash-checked dependencies; runs as an unprivileged user.
#
#   docker build -t gatehouse .
#   docker compose up -d        # PostgreSQL + Gatehouse, see docker-compose.yml and .env.example
#
# Only the files the package needs are copied, so a local `.env`, `.venv` or `.gatehouse/` in the
# build context never ends up in an image layer.

FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Dependencies first: this layer is reused until the lock changes.
COPY requirements/run.lock requirements/run.lock
RUN pip install --require-hashes --no-deps -r requirements/run.lock

# The build backend (setuptools) is in run.lock, so the package builds without fetching anything.
COPY pyproject.toml README.md* ./
COPY controlplane/ controlplane/
COPY runtime/ runtime/
COPY audits/ audits/
RUN pip install --no-deps --no-build-isolation . \
    && gatehouse --help > /dev/null


FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEHOUSE_HOME=/var/lib/gatehouse \
    GATEHOUSE_HOST=0.0.0.0 \
    GATEHOUSE_PORT=8080

# A fixed, non-root uid/gid so volume ownership is predictable across rebuilds.
# GATEHOUSE_HOME holds generated keys and (without PostgreSQL) the SQLite store: 0700.
RUN groupadd --system --gid 10001 gatehouse \
    && useradd --system --uid 10001 --gid gatehouse --home-dir /var/lib/gatehouse \
       --no-create-home --shell /usr/sbin/nologin gatehouse \
    && install -d -o gatehouse -g gatehouse -m 0700 /var/lib/gatehouse \
    && install -d -o root -g root -m 0755 /srv/gatehouse

COPY --from=build /opt/venv /opt/venv
# The checklist the audit API and nightly job run: data, not code, so it is not in the package.
COPY threat-model/ /opt/gatehouse/threat-model/
ENV GATEHOUSE_AUDIT_CHECKLIST_FILE=/opt/gatehouse/threat-model/checklist.yaml

# An empty, root-owned working directory: settings also read `./.env`, and none should be here.
WORKDIR /srv/gatehouse
VOLUME ["/var/lib/gatehouse"]
USER 10001:10001
EXPOSE 8080

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('GATEHOUSE_PORT', '8080') + '/readyz', timeout=4)"]

# `db upgrade` first: on PostgreSQL, `serve` refuses a schema that is not current.
CMD ["sh", "-c", "gatehouse db upgrade && exec gatehouse serve --host 0.0.0.0"]
