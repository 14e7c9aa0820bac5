"""Settings for Pooling Lab, read from the environment with safe defaults.

Three ways to run:
- local (the default, what `manage.py tutorial` and the tests use): DEBUG off,
  a generated secret key, only loopback hosts;
- production (`POOLING_LAB_PRODUCTION=1`, an instructor's deployment): refuses to
  start without SECRET_KEY and ALLOWED_HOSTS, and passes `check --deploy`;
- DEBUG=1 for working on the site itself.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything the lab writes at run time (PostgreSQL data, the local secret key,
# collected static files) lives here; it is git-ignored.
LAB_DIR = Path(os.environ.get("POOLING_LAB_DIR", BASE_DIR / ".lab"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    return [item.strip() for item in value.split(",") if item.strip()] or default


PRODUCTION = env_bool("POOLING_LAB_PRODUCTION")
DEBUG = env_bool("DEBUG")


def _local_secret_key() -> str:
    # A per-checkout key, kept so that sessions (and so learners' progress)
    # survive a restart of the lab.
    path = LAB_DIR / "secret_key"
    if not path.exists():
        LAB_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


if PRODUCTION:
    if not os.environ.get("SECRET_KEY"):
        raise ImproperlyConfigured("POOLING_LAB_PRODUCTION is set: SECRET_KEY must be set too.")
    if not os.environ.get("ALLOWED_HOSTS"):
        raise ImproperlyConfigured(
            "POOLING_LAB_PRODUCTION is set: ALLOWED_HOSTS must list the site's host names."
        )
SECRET_KEY = os.environ.get("SECRET_KEY") or _local_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "lessons",
]

MIDDLEWARE = [
    "lessons.middleware.server_timing",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "lessons.middleware.permissions_policy",
    "django_htmx.middleware.HtmxMiddleware",
    "lessons.middleware.rate_limits",
    # Last, so that it sees the views' exceptions first: the one error boundary.
    "lessons.boundary.LabErrorMiddleware",
]
CSRF_FAILURE_VIEW = "lessons.boundary.csrf_failure"
# Bodies are small JSON objects or forms: anything bigger is refused before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# Runs execute as Django tasks whose queue lives in PostgreSQL, so that site replicas and
# run workers on any machine share it and a restart loses nothing.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

ROOT_URLCONF = "tutorial.urls"
WSGI_APPLICATION = "tutorial.wsgi.application"
ASGI_APPLICATION = "tutorial.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "lessons.context.site",
            ],
        },
    },
]

# The site's own database. With no DATABASE_URL it is the embedded PostgreSQL
# that `manage.py tutorial` (or the test suite) starts on this port.
EMBEDDED_PG_PORT = env_int("POOLING_LAB_PG_PORT", 54329)
DATABASE_URL = os.environ.get(
    "DATABASE_URL", f"postgres://postgres@127.0.0.1:{EMBEDDED_PG_PORT}/pooling_lab"
)
# The site's own requests keep their connection (gunicorn gthread reuses its
# threads), checked before reuse: the page time of a learner with a session would
# otherwise be mostly a new connection.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("SITE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = "pooling-lab:site"


def _lab_password(name: str) -> str:
    """A role's password: from the environment, else generated once per lab folder.

    Never a fixed default: a workshop node would otherwise ship a known password.
    """
    value = os.environ.get(f"POOLING_LAB_{name.upper()}_PASSWORD")
    if value:
        return value
    path = LAB_DIR / f"{name}_password"
    if not path.exists():
        LAB_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


# Demo connections log in as roles of their own, each created with a CONNECTION LIMIT
# (its slice of the budget): the WSGI demo server, the ASGI demo server (whose pile-up
# must never starve the others) and PgBouncer's server connections. An empty role means
# the lab could not create it and demos use the site's own user.
DEMO_ROLE = os.environ.get("POOLING_LAB_DEMO_ROLE", "pooling_lab_demo")


def _pgbouncer() -> dict | None:
    """Where PgBouncer is: the lab's managed one (set by `manage.py tutorial`), else
    PGBOUNCER_URL (an external PgBouncer with the lab's databases and an admin user)."""
    from urllib.parse import urlsplit

    url = os.environ.get("PGBOUNCER_URL", "")
    host = os.environ.get("POOLING_LAB_PGBOUNCER_HOST", "")
    if url:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 6432
        admin_user, admin_password = parts.username or "", parts.password or ""
    elif host:
        port = env_int("POOLING_LAB_PGBOUNCER_PORT", 6432)
        admin_user = os.environ.get("POOLING_LAB_PGBOUNCER_ADMIN_USER", "")
        admin_password = os.environ.get("POOLING_LAB_PGBOUNCER_ADMIN_PASSWORD", "")
    else:
        return None
    return {
        "host": host,
        "port": port,
        "admin_user": admin_user,
        "admin_password": admin_password,
        "version": os.environ.get("POOLING_LAB_PGBOUNCER_VERSION", ""),
        "managed": not url,
    }


# The lab: the demo servers that answer probes, the budget, the run queue.
LAB = {
    "WSGI_URL": os.environ.get("POOLING_LAB_WSGI_URL", ""),
    "WSGI_WORKERS": env_int("POOLING_LAB_WSGI_WORKERS", 2),
    "WSGI_THREADS": env_int("POOLING_LAB_WSGI_THREADS", 4),
    "ASGI_URL": os.environ.get("POOLING_LAB_ASGI_URL", ""),
    "ASGI_WORKERS": env_int("POOLING_LAB_ASGI_WORKERS", 1),
    "PGBOUNCER": _pgbouncer(),
    # The supervisor's control folder and whether it runs PostgreSQL itself (set by
    # `manage.py tutorial`): restarting PostgreSQL is possible only then.
    "CONTROL_DIR": os.environ.get("POOLING_LAB_CONTROL_DIR", ""),
    "EMBEDDED_PG": env_bool("POOLING_LAB_EMBEDDED_PG"),
    # 0 means "half of the server's max_connections", read when first needed.
    "CONNECTION_BUDGET": env_int("POOLING_LAB_CONNECTION_BUDGET", 0),
    "DEMO_ROLE": DEMO_ROLE,
    "DEMO_PASSWORD": _lab_password("demo") if DEMO_ROLE else "",
    "ASGI_ROLE": os.environ.get("POOLING_LAB_ASGI_ROLE", "pooling_lab_asgi"),
    "ASGI_PASSWORD": _lab_password("asgi"),
    "BOUNCER_ROLE": os.environ.get("POOLING_LAB_BOUNCER_ROLE", "pooling_lab_bouncer"),
    "BOUNCER_PASSWORD": _lab_password("bouncer"),
    "MAX_LIVE_ALIASES": env_int("POOLING_LAB_MAX_LIVE_ALIASES", 8),
    "ALIAS_IDLE_SECONDS": env_int("POOLING_LAB_ALIAS_IDLE_SECONDS", 300),
    # Runs executing at once (each needs a run worker), one of them kept for short runs.
    "MAX_PARALLEL_RUNS": env_int("POOLING_LAB_MAX_PARALLEL_RUNS", 3),
    "RUN_WORKERS": env_int("POOLING_LAB_RUN_WORKERS", 3),
    "MAX_QUEUED_RUNS": env_int("POOLING_LAB_MAX_QUEUED_RUNS", 1000),
    "MAX_QUEUED_PER_LEARNER": env_int("POOLING_LAB_MAX_QUEUED_PER_LEARNER", 3),
    "MAX_RUN_REQUESTS": env_int("POOLING_LAB_MAX_RUN_REQUESTS", 500),
    "MAX_RUN_CONCURRENCY": env_int("POOLING_LAB_MAX_RUN_CONCURRENCY", 32),
    # requests x hold_ms / concurrency: the least time a run keeps the demo server busy.
    "MAX_RUN_HOLD_SECONDS": env_int("POOLING_LAB_MAX_RUN_HOLD_SECONDS", 30),
    # A running run without progress for this long had its worker die: it is failed.
    "RUN_STALE_SECONDS": env_int("POOLING_LAB_RUN_STALE_SECONDS", 20),
    # Restart PostgreSQL, stop PgBouncer: at most once in this many seconds.
    "FAULT_EVERY_SECONDS": env_int("POOLING_LAB_FAULT_EVERY_SECONDS", 60),
    # Behind a load balancer that sets X-Forwarded-For, rate limits count by that address.
    "TRUST_FORWARDED_FOR": env_bool("POOLING_LAB_TRUST_FORWARDED_FOR"),
    # The instructor's view (lessons.views.instructor): this token signs in.
    "INSTRUCTOR_TOKEN": os.environ.get("POOLING_LAB_INSTRUCTOR_TOKEN")
    or _lab_password("instructor"),
    # Overrides of lessons.ratelimit's per-minute limits (0: the default).
    "RATE_LIMITS": {
        name: env_int(f"POOLING_LAB_RATE_{name.upper()}", 0)
        for name in ("request", "action", "run", "newcomer", "anonymous")
    },
}

# Sessions in PostgreSQL (every site replica reads them), read through this process's
# cache: a learner's polls then cost no session query.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 365
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", LAB_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

X_FRAME_OPTIONS = "DENY"
# Everything the pages need is the site's own (htmx and styles vendored): no inline
# script or style, no eval, nothing from elsewhere, no framing.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Read by lessons.middleware: the site uses none of these browser features.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
CROSS_ORIGIN_RESOURCE_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    # Behind the instructor's TLS-terminating proxy.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
