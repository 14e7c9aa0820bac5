"""Settings of the demo servers (gunicorn for WSGI, uvicorn for ASGI): probes and nothing else.

No middleware at all (no session, CSRF, static, htmx or timing): a probe pays for Django's
request cycle and its own work only, like the bare app the benchmark compares it with. The
error boundary wraps the demo views themselves (lessons.boundary.json_errors), so that a
bad probe gets the same JSON answer as the API gives.
"""

import os

from .settings import *  # noqa: F403
from .settings import LAB

INSTALLED_APPS = ["lessons"]
# Reached only by the lab's own run workers, on loopback or the deployment's private network
# (its name there varies), never by a browser: the site's ALLOWED_HOSTS do not apply.
ALLOWED_HOSTS = ["*"]
MIDDLEWARE = []
ROOT_URLCONF = "tutorial.demo_urls"
TEMPLATES = []
# Which demo server this process is: its connections log in as that server's role.
LAB["SERVER"] = os.environ.get("POOLING_LAB_SERVER", "wsgi")
