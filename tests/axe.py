"""axe-core in a Playwright page: the accessibility rules the site must pass.

axe-core is vendored under tests/vendor/ (from the npm package, with its licence), so
the check runs offline and the same rules apply on every machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
# What a learner cannot get past; "moderate" and "minor" are advice, not failures.
BLOCKING = ("serious", "critical")
# WCAG 2.x A and AA plus axe's best practices (landmarks, headings, region).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def run(page: Any, tags: list[str] | None = None) -> list[dict[str, Any]]:
    """Inject axe (once per document) and return its violations, every impact."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated by the browser's debugging protocol, which the page's
        # Content-Security-Policy does not govern (an inline <script> would be refused).
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;true")
    options = {"runOnly": {"type": "tag", "values": tags or TAGS}, "resultTypes": ["violations"]}
    results = page.evaluate("options => window.axe.run(document, options)", options)
    return results["violations"]


def blocking(page: Any, tags: list[str] | None = None) -> list[dict[str, Any]]:
    """The serious and critical violations only."""
    return [v for v in run(page, tags) if v.get("impact") in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per failing element: rule, impact, target and axe's own summary."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            summary = node.get("failureSummary", "").replace("\n", " ")
            lines.append(
                f"{violation['id']} ({violation['impact']}) {node['target']}: {summary[:300]}"
            )
    return "\n".join(lines)
