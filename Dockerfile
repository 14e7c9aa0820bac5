# Pooling Lab in one image: the site, the demo servers, the embedded PostgreSQL and
# PgBouncer, run by `manage.py tutorial` as an unprivileged user.
#
#   scripts/docker_base.sh                    # debian:trixie-slim, made from Debian's packages
#   DOCKER_BUILDKIT=1 docker build --network host -t pooling-lab .
#   docker run -p 8000:8000 pooling-lab       # then http://127.0.0.1:8000
#
# With POOLING_LAB_PRODUCTION=1, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and PGBOUNCER_URL
# the same image is a workshop node (the README's "Workshops").

FROM debian:trixie-slim AS build

ARG UV_VERSION=0.13.9
# Debian's Python 3.13, never a downloaded one (no interpreter download is possible on the
# machines that build this, and the runtime stage has the same Debian Python).
ENV UV_PYTHON=python3.13 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

# Few layers: the engine's vfs storage (what runs on the machines that build this) keeps
# every layer as a full copy of the file system.
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    --mount=type=cache,target=/root/.cache/pip \
    apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install "uv==${UV_VERSION}"

WORKDIR /app

# The dependencies alone first, from the lock file: this layer stays cached until the lock
# changes, whatever happens to the code.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    /opt/uv/bin/uv sync --no-dev --frozen --no-install-project

# Then the code (uv sync installs the project too, should it become a package), the static
# files hashed and compressed once, and bytecode. Importing the settings writes a secret key
# and role passwords into the lab folder: a throwaway one, so that no image carries them.
# The lab re-collects static files when it cannot tell they are current: the user it runs
# as (10001, below) may write there.
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --no-dev --frozen \
    && POOLING_LAB_DIR=/tmp/build-lab STATIC_ROOT=/app/staticfiles \
       /app/.venv/bin/python manage.py collectstatic --noinput --verbosity 0 \
    && /app/.venv/bin/python -m compileall -q lessons tutorial \
    && rm -rf /tmp/build-lab \
    && chown -R 10001:10001 /app/staticfiles


FROM debian:trixie-slim

LABEL org.opencontainers.image.title="Pooling Lab" \
      org.opencontainers.image.description="Database connection pooling for Django and PostgreSQL, shown live"

# Python 3.13 (the venv's interpreter), PgBouncer 1.24 for the PgBouncer lessons, and tini
# as PID 1 so that signals reach the lab and orphans are reaped. PostgreSQL, PgBouncer and
# gunicorn all run as the user lab; /data holds what the lab writes (the embedded
# PostgreSQL's folder, the secret key, role passwords, logs).
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get update \
    && apt-get install -y --no-install-recommends python3 pgbouncer tini \
    && groupadd --gid 10001 lab \
    && useradd --uid 10001 --gid lab --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin lab \
    && mkdir /data \
    && chown lab:lab /data

WORKDIR /app
COPY --from=build /app /app

ENV PATH=/app/.venv/bin:$PATH \
    POOLING_LAB_DIR=/data \
    STATIC_ROOT=/app/staticfiles \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

VOLUME ["/data"]
USER 10001:10001
EXPOSE 8000

# /healthz, or /api/lab while a site without /healthz answers 404 there. In production the
# request names the first ALLOWED_HOSTS entry and says it came through TLS, as the
# instructor's proxy would, so that neither the host check nor the HTTPS redirect answers.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.error, urllib.request as r\nhosts = [h.strip().lstrip('.') for h in os.environ.get('ALLOWED_HOSTS', '').split(',')]\nhost = next((h for h in hosts if h and '*' not in h), '127.0.0.1')\nfor path in ('/healthz', '/api/lab'):\n    req = r.Request('http://127.0.0.1:8000' + path, headers={'Host': host, 'X-Forwarded-Proto': 'https'})\n    try:\n        raise SystemExit(r.urlopen(req, timeout=4).status != 200)\n    except urllib.error.HTTPError as exc:\n        if exc.code != 404:\n            raise SystemExit(1) from exc\nraise SystemExit(1)"]

ENTRYPOINT ["tini", "--"]
CMD ["python", "manage.py", "tutorial", "--host", "0.0.0.0"]
