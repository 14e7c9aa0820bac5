"""Playwright on Debian's Chromium: never a downloaded browser."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

from .support import require

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium(**context_options):
    require(bool(shutil.which(CHROMIUM)), f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(**context_options)
            yield context
        finally:
            browser.close()


def share_session(context, http) -> None:
    """Give the browser the session of an Http client: the same learner in both."""
    context.add_cookies([{"name": c.name, "value": c.value, "url": http.base} for c in http.jar])


def session_of(context, base: str):
    """An Http client with the browser's cookies: the same learner in both."""
    from .support import Http

    client = Http(base)
    client.opener.addheaders = [
        ("Cookie", "; ".join(f"{c['name']}={c['value']}" for c in context.cookies(base)))
    ]
    return client
