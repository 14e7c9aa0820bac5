"""Lessons: Markdown files with front matter under lessons/content/."""

from __future__ import annotations

import functools
import html
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import markdown
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown.postprocessors import Postprocessor
from markdown.treeprocessors import Treeprocessor
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name

from . import checkpoints
from .demos import Embed, embed

CONTENT_DIR = Path(__file__).resolve().parent / "content"
DEMO_LINE = re.compile(r"^\{\{\s*demo\s+([\w-]+)((?:\s+[\w-]+=\S+)*)\s*\}\}\s*$", re.MULTILINE)
DEMO_MARK = re.compile(r"<!--demo:(\d+)-->")
# codehilite's block; _CodeFormatter names the language on <code>.
CODE_BLOCK = re.compile(r'<pre>(?=<span></span><code class="language-([\w+-]+)">)')
TABLE = re.compile(r"<table>.*?</table>", re.DOTALL)


class _CodeFormatter(HtmlFormatter):
    """Pygments' HTML with the block's language as a class on <code>.

    Markdown's codehilite hands a formatter class `lang_str`; Pygments' own ignores it.
    """

    def __init__(self, lang_str: str = "", **options: Any) -> None:
        super().__init__(**options)
        self.lang_str = lang_str

    def _wrap_code(self, inner: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
        yield 0, f'<code class="{self.lang_str}">'
        yield from inner
        yield 0, "</code>"


class _NamedPermalinks(Treeprocessor):
    """Give each heading's "#" permalink a name a screen reader can say."""

    def run(self, root) -> None:
        names: dict[str, str] = {}
        tokens = list(self.md.toc_tokens)
        while tokens:
            token = tokens.pop()
            names[token["id"]] = token["name"]
            tokens.extend(token["children"])
        for link in root.iter("a"):
            target = link.get("href", "")[1:]
            if link.get("class") == "headerlink" and target in names:
                # toc_tokens hold the name HTML-escaped; ElementTree escapes it again.
                link.set("aria-label", f"Link to this section: {html.unescape(names[target])}")


def _code_region(match: re.Match, number: int) -> str:
    language = get_lexer_by_name(match.group(1)).name
    label = f"Code example {number}" + ("" if language == "Text only" else f" ({language})")
    return f'<pre tabindex="0" role="region" aria-label="{escape(label)}">'


def _table_region(match: re.Match, number: int) -> str:
    return (
        f'<div class="table-scroll" tabindex="0" role="region" aria-label="Table {number}">'
        f"{match.group(0)}</div>"
    )


class _ScrollRegions(Postprocessor):
    """Code blocks and tables scroll sideways on a phone: make each a named, focusable
    region, so a keyboard can reach it and scroll it with the arrow keys."""

    def run(self, text: str) -> str:
        codes, tables = itertools.count(1), itertools.count(1)
        text = CODE_BLOCK.sub(lambda match: _code_region(match, next(codes)), text)
        return TABLE.sub(lambda match: _table_region(match, next(tables)), text)


class _Accessible(markdown.Extension):
    """Named permalinks and keyboard-scrollable code blocks and tables."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # After toc (priority 5), which adds the permalinks and collects the names.
        md.treeprocessors.register(_NamedPermalinks(md), "named_permalinks", 4)
        # After raw HTML (and so codehilite's blocks) is put back (priority 30).
        md.postprocessors.register(_ScrollRegions(md), "scroll_regions", 25)


EXTENSIONS = [
    "fenced_code",
    "codehilite",
    "tables",
    "toc",
    "admonition",
    "attr_list",
    "sane_lists",
    _Accessible(),
]
EXTENSION_CONFIGS = {
    "codehilite": {
        "css_class": "highlight",
        "guess_lang": False,
        "pygments_formatter": _CodeFormatter,
    },
    # The permalink's visible "#" gets its spoken name from _NamedPermalinks.
    "toc": {"permalink": "#", "permalink_title": "", "toc_depth": "2-3"},
}


@dataclass
class Lesson:
    slug: str
    title: str
    order: int
    minutes: int
    summary: str
    objectives: list[str]
    demos: list[str]
    # The body, split around the demos it embeds: strings of HTML and Embeds.
    blocks: list[SafeString | Embed] = field(default_factory=list)
    toc: list[dict[str, Any]] = field(default_factory=list)
    checks: checkpoints.Checks = field(default_factory=checkpoints.Checks)

    @property
    def embeds(self) -> list[Embed]:
        return [b for b in self.blocks if isinstance(b, Embed)]


def _render(slug: str, body: str) -> tuple[list[SafeString | Embed], list[dict[str, Any]]]:
    embeds: list[Embed] = []

    def place(match: re.Match) -> str:
        options = dict(pair.split("=", 1) for pair in match.group(2).split())
        try:
            embeds.append(embed(match.group(1), len(embeds) + 1, options, slug))
        except (ValueError, LookupError) as exc:
            raise ValueError(f"lesson {slug}: {exc}") from exc
        return f"\n\n<!--demo:{len(embeds) - 1}-->\n\n"

    md = markdown.Markdown(extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS)
    html = md.convert(DEMO_LINE.sub(place, body))
    blocks: list[SafeString | Embed] = []
    for index, part in enumerate(DEMO_MARK.split(html)):
        # Lesson files are the project's own content, not user input.
        blocks.append(embeds[int(part)] if index % 2 else mark_safe(part))
    return blocks, md.toc_tokens


def load(path: Path) -> Lesson:
    post = frontmatter.load(path)
    meta = post.metadata
    lesson = Lesson(
        slug=path.stem,
        title=str(meta["title"]),
        order=int(meta["order"]),
        minutes=int(meta.get("minutes", 5)),
        summary=str(meta.get("summary", "")),
        objectives=list(meta.get("objectives", [])),
        demos=list(meta.get("demos", [])),
    )
    lesson.checks = checkpoints.parse(meta, lesson.slug)
    lesson.blocks, lesson.toc = _render(lesson.slug, post.content)
    known = {c.id for c in lesson.checks.checkpoints}
    for item in lesson.embeds:
        if "predict" in item.options and item.options["predict"] not in known:
            raise ValueError(
                f"lesson {lesson.slug}: demo {item.name!r} predicts "
                f"{item.options['predict']!r}, which is not one of its checkpoints"
            )
    return lesson


def _load_all() -> list[Lesson]:
    return sorted((load(p) for p in CONTENT_DIR.glob("*.md")), key=lambda lesson: lesson.order)


_cached = functools.cache(_load_all)


def all_lessons() -> list[Lesson]:
    # Re-read on every request while working on the lessons (DEBUG); parse once otherwise.
    return _load_all() if settings.DEBUG else _cached()


def by_slug() -> dict[str, Lesson]:
    return {lesson.slug: lesson for lesson in all_lessons()}


def neighbours(slug: str) -> tuple[Lesson | None, Lesson | None]:
    lessons = all_lessons()
    index = next(i for i, lesson in enumerate(lessons) if lesson.slug == slug)
    previous = lessons[index - 1] if index > 0 else None
    following = lessons[index + 1] if index + 1 < len(lessons) else None
    return previous, following
