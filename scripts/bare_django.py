"""The benchmark's baseline: a bare Django app in one file, no middleware, one query.

`manage.py bench` serves it with the same gunicorn as the lab's demo server (gthread,
2 workers x 4 threads) and compares it with the lab's probes: what the lab itself costs
on top of Django, and whether the ratio a learner sees matches bare Django's. Its two
views run the probe's own query: `/pool/` on Django's native pool (the native-pool
strategy's defaults, min_size 2, max_size 4), `/nopool/` with CONN_MAX_AGE = 0.

Settings come from BARE_DB (a JSON object: NAME, USER, PASSWORD, HOST, PORT).
"""

import json
import os

import django
from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.urls import path

DB = {"ENGINE": "django.db.backends.postgresql", **json.loads(os.environ["BARE_DB"])}
settings.configure(
    DEBUG=False,
    # It serves two JSON views on loopback, for the length of a benchmark.
    SECRET_KEY="bare-benchmark-app",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={
        "default": {
            **DB,
            "OPTIONS": {"application_name": "pooling-lab:bare-pool", "pool": {"min_size": 2}},
        },
        "nopool": {
            **DB,
            "CONN_MAX_AGE": 0,
            "OPTIONS": {"application_name": "pooling-lab:bare-nopool"},
        },
    },
)
settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"] = 4
django.setup()


def _pid(alias: str) -> JsonResponse:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), NULL, pg_sleep(%s)", [0])
        return JsonResponse({"backend_pid": cursor.fetchone()[0]})


def pool(request):
    return _pid("default")


def nopool(request):
    return _pid("nopool")


urlpatterns = [path("pool/", pool), path("nopool/", nopool)]

from django.core.wsgi import get_wsgi_application  # noqa: E402 - after settings.configure

application = get_wsgi_application()
