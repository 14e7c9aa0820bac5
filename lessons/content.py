"""Lessons: Markdown files with front matter under lessons/content/."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import markdown
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from .demos import Embed, embed

CONTENT_DIR = Path(__file__).resolve().parent / "content"
DEMO_LINE = re.compile(r"^\{\{\s*demo\s+([\w-]+)((?:\s+[\w-]+=\S+)*)\s*\}\}\s*$", re.MULTILINE)
DEMO_MARK = re.compile(r"<!--demo:(\d+)-->")
EXTENSIONS = ["fenced_code", "codehilite", "tables", "toc", "admonition", "attr_list", "sane_lists"]
EXTENSION_CONFIGS = {
    "codehilite": {"css_class": "highlight", "guess_lang": False},
    "toc": {"permalink": "#", "permalink_title": "Link to this section", "toc_depth": "2-3"},
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
    lesson.blocks, lesson.toc = _render(lesson.slug, post.content)
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
