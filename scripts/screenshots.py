"""Screenshots of every page, light and dark, desktop and phone, for a look by eye.

Usage: with the lab running (uv run manage.py tutorial), run
    uv run python scripts/screenshots.py [http://127.0.0.1:8000] [out-folder]
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


CONTENT = Path(__file__).resolve().parent.parent / "lessons" / "content"


def lesson_paths() -> list[str]:
    lessons = sorted(f"/lessons/{path.stem}/" for path in CONTENT.glob("*.md"))
    return ["/", *lessons, "/monitor/", "/runs/compare/"]


def main() -> None:
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for name, options in {
            "desktop-light": {"viewport": {"width": 1280, "height": 900}},
            "phone-dark": {"viewport": {"width": 375, "height": 740}, "color_scheme": "dark"},
        }.items():
            page = browser.new_context(**options).new_page()
            for path in lesson_paths():
                page.goto(base + path)
                slug = path.strip("/").replace("/", "_") or "index"
                page.screenshot(path=out / f"{slug}-{name}.png", full_page=True)
        browser.close()
    print(f"screenshots in {out}/")


if __name__ == "__main__":
    main()
