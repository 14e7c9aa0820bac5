"""Security headers, and pages that run under a strict Content-Security-Policy."""

from __future__ import annotations

import pytest

from .browser import chromium
from .learning_support import lock_in

PAGES = [
    "/",
    "/lessons/no-pooling/",
    "/lessons/pgbouncer-modes/",
    "/monitor/",
    "/runs/compare/",
    "/progress/",
]


@pytest.mark.parametrize("path", ["/", "/lessons/asgi/", "/api/lab", "/healthz"])
def test_every_answer_carries_the_security_headers(site, path):
    status, _, headers = site.request("GET", path)
    assert status == 200
    csp = headers["Content-Security-Policy"]
    # No inline script or style, no eval, nothing from another origin, no framing.
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["Permissions-Policy"].startswith("camera=()")
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.browser
def test_no_page_breaks_its_policy_before_or_after_a_demo_ran(lab):
    violations: list[str] = []
    with chromium() as context:
        page = context.new_page()
        page.on("console", lambda m: violations.append(m.text) if "Content-Security" in m.text
                else None)  # fmt: skip
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation',"
            " e => console.error('Content-Security-Policy: ' + e.violatedDirective));"
        )
        for path in PAGES:
            page.goto(lab.url + path)
            page.wait_for_load_state("networkidle")
        # A demo's run view arrives by htmx: its colours come from classes, not styles.
        page.goto(lab.url + "/lessons/no-pooling/")
        lock_in(page, "demo-1", 10)
        page.locator("#demo-1 form button[type=submit]").click()
        page.locator(".run[data-status=done]").first.wait_for(timeout=60_000)
        assert page.locator(".pid.hue-0").count() >= 1
    assert violations == []
