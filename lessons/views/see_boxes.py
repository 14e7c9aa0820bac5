""" "What you should see" boxes stay closed until the demo above them has run.

A lesson's `!!! see "What you should see"` admonition tells the outcome; shown before the
run, it gives the prediction away. Each one that follows a demo becomes a closed
<details> tied to that demo (`data-demo`); site.js opens it when the demo's run is done.
A box before any demo, or after a demo that only watches (the monitor), stays open: it
describes what to watch, not an outcome.
"""

from __future__ import annotations

import re

from django.utils.safestring import SafeString, mark_safe

from ..content import Lesson

# Demos that only watch: nothing of theirs "runs", so nothing after them waits for a run.
WATCHING = frozenset({"monitor", "pgbouncer"})

TOKENS = re.compile(
    r'<section class="demo[^"]*" id="(?P<demo>demo-\d+)"'
    r'|(?P<box><div class="admonition see">\s*<p class="admonition-title">(?P<title>.*?)</p>)'
)
DIV = re.compile(r"<div\b|</div>")


def _closing(html: str, start: int) -> int:
    """Where the <div> opened just before `start` closes (nested divs counted)."""
    depth = 1
    for match in DIV.finditer(html, start):
        depth += 1 if match.group(0) == "<div" else -1
        if depth == 0:
            return match.start()
    return -1


def _collapse(html: str, watching: frozenset[str]) -> str:
    out, last, demo = [], 0, None
    for match in TOKENS.finditer(html):
        if match.group("demo"):
            demo = None if match.group("demo") in watching else match.group("demo")
            continue
        end = _closing(html, match.end())
        if demo is None or end < 0 or match.start() < last:
            continue
        title = match.group("title")
        out.append(html[last : match.start()])
        out.append(
            f'<details class="admonition see" data-demo="{demo}"><summary class="admonition-title">'
            f'{title} <span class="after-run">(opens once the demo above has run)</span></summary>'
        )
        out.append(html[match.end() : end])
        out.append("</details>")
        last = end + len("</div>")
    out.append(html[last:])
    return "".join(out)


def collapse(html: str, lesson: Lesson) -> SafeString:
    watching = frozenset(e.anchor for e in lesson.embeds if e.name in WATCHING)
    # The lesson's own HTML, rearranged: as safe as it was.
    return mark_safe(_collapse(str(html), watching))
