"""Accessible and comfortable: every page, light and dark, desktop and phone.

The browser tests run axe-core (tests/vendor) in Debian's Chromium against the real lab.
The colour tests check every colour the stylesheets can produce, including the Pygments
tokens and PID hues that today's pages happen not to show.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from lessons.content import all_lessons

from . import axe
from .browser import chromium, share_session
from .learning_support import lock_in
from .support import Http

CSS = Path(__file__).resolve().parent.parent / "static" / "css"
DESKTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
MODES = {
    "light-desktop": {"color_scheme": "light", "viewport": DESKTOP},
    "dark-desktop": {"color_scheme": "dark", "viewport": DESKTOP},
    "light-phone": {"color_scheme": "light", "viewport": PHONE},
    "dark-phone": {"color_scheme": "dark", "viewport": PHONE},
}
AA = 4.5  # WCAG 2 AA for body text; code and PID chips are body-sized text.


# --- Colour arithmetic (WCAG 2 relative luminance; OKLCH as CSS Color 4 defines it) ---


def _linear(channel: float) -> float:
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


def _luminance(rgb: tuple[float, ...]) -> float:
    r, g, b = (_linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _hex(colour: str) -> tuple[float, ...]:
    digits = colour.lstrip("#")
    digits = "".join(d * 2 for d in digits) if len(digits) == 3 else digits
    return tuple(int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))


def contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def oklch(lightness: float, chroma: float, hue: float) -> tuple[float, ...]:
    """sRGB (0-1, gamma-encoded) of an OKLCH colour; raises if it is outside sRGB."""
    a, b = chroma * math.cos(math.radians(hue)), chroma * math.sin(math.radians(hue))
    l_ = (lightness + 0.3963377774 * a + 0.2158037573 * b) ** 3
    m_ = (lightness - 0.1055613458 * a - 0.0638541728 * b) ** 3
    s_ = (lightness - 0.0894841775 * a - 1.2914855480 * b) ** 3
    linear = (
        4.0767416621 * l_ - 3.3077115913 * m_ + 0.2309699292 * s_,
        -1.2684380046 * l_ + 2.6097574011 * m_ - 0.3413193965 * s_,
        -0.0041960863 * l_ - 0.7034186147 * m_ + 1.7076147010 * s_,
    )
    # Out of gamut, browsers clip each channel differently: the contrast would be a guess.
    assert all(-1e-4 <= c <= 1 + 1e-4 for c in linear), (lightness, chroma, hue)
    return tuple(_encode(min(max(c, 0.0), 1.0)) for c in linear)


def _encode(channel: float) -> float:
    return 12.92 * channel if channel <= 0.0031308 else 1.055 * channel ** (1 / 2.4) - 0.055


def _variables() -> dict[str, dict[str, str]]:
    """site.css custom properties, light (:root) and dark (the prefers-color-scheme block)."""
    css = (CSS / "site.css").read_text()
    declared = re.compile(r"--([\w-]+):\s*([^;]+);")
    light = dict(declared.findall(css.split("@media")[0]))
    dark = re.search(r"prefers-color-scheme: dark\) \{\s*:root \{(.*?)\}", css, re.S)[1]
    return {"light": light, "dark": {**light, **dict(declared.findall(dark))}}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_colour_in_the_site_stylesheet_passes_aa(scheme):
    v = _variables()[scheme]
    backgrounds = ("bg", "card", "code-bg", "warn-bg")
    pairs = [(t, b) for t in ("fg", "muted", "accent", "ok", "bad") for b in backgrounds]
    pairs.append(("accent-fg", "accent"))  # button text
    failing = {
        f"--{t} on --{b}": round(ratio, 2)
        for t, b in pairs
        if (ratio := contrast(_hex(v[t]), _hex(v[b]))) < AA
    }
    assert failing == {}
    # A focus ring is a non-text indicator: 3:1 against what it is drawn on (WCAG 1.4.11).
    assert all(contrast(_hex(v["focus"]), _hex(v[b])) >= 3 for b in ("bg", "card", "code-bg"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_pygments_token_colour_passes_aa_on_the_code_background(scheme):
    light, dark = (CSS / "pygments.css").read_text().split("@media (prefers-color-scheme: dark)")
    rules = re.findall(r"(\.highlight \.\w+) \{ ([^}]*)\}", light if scheme == "light" else dark)
    background = _hex(_variables()[scheme]["code-bg"])
    colours = {
        selector: m[1]
        for selector, declarations in rules
        # A token with its own background (.err in dark mode) is measured against that.
        if "background" not in declarations
        and (m := re.search(r"(?<![-\w])color: (#[0-9A-Fa-f]{3,6})", declarations))
    }
    assert len(colours) > 40  # the file was parsed: Pygments styles have ~80 token rules
    failing = {s: c for s, c in colours.items() if contrast(_hex(c), background) < AA}
    assert failing == {}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_pid_hue_passes_aa_with_the_chip_text(scheme):
    v = _variables()[scheme]
    lightness, chroma = float(v["pid-l"].rstrip("%")) / 100, float(v["pid-c"])
    text = _hex(v["pid-fg"])
    # lessons.runs gives hues in whole degrees (golden-angle steps), so these are all of them.
    worst = min(contrast(oklch(lightness, chroma, hue), text) for hue in range(360))
    assert worst >= AA, worst


# --- The pages in Chromium ---


def _pages(run_id: int) -> list[str]:
    lessons = [f"/lessons/{lesson.slug}/" for lesson in all_lessons()]
    assert len(lessons) == 12
    return [
        "/",
        *lessons,
        "/monitor/",
        "/progress/",
        f"/runs/compare/?ids={run_id}",
        f"/runs/{run_id}/",
        "/demos/connection-cost/?samples=5",
    ]


@pytest.fixture(scope="module")
def finished_run(lab) -> tuple[Http, dict]:
    client = Http(lab.url)
    return client, client.run("no-pool", requests=10)


def _settle(page) -> None:
    # htmx fills some parts after load (past runs, the monitor); check the page they make.
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def _open(page, url: str) -> None:
    page.goto(url)
    _settle(page)


@pytest.mark.browser
@pytest.mark.parametrize("mode", MODES)
def test_every_page_before_and_after_a_demo_is_axe_clean(lab, finished_run, mode):
    owner, run = finished_run
    with chromium(**MODES[mode]) as context:
        share_session(context, owner)  # the run is the learner's own: only they may see it
        _check_every_page(context.new_page(), lab.url, run["id"], mode)


def _check_every_page(page, base: str, run_id: int, mode: str) -> None:
    trouble: list[str] = []
    page.on("console", lambda m: m.type == "error" and trouble.append(f"console: {m.text}"))
    page.on("pageerror", lambda exc: trouble.append(f"page error: {exc}"))
    page.on("response", lambda r: r.status >= 400 and trouble.append(f"{r.status} {r.url}"))
    found: dict[str, str] = {}
    width = MODES[mode]["viewport"]["width"]
    for path in _pages(run_id):
        _open(page, base + path)
        if violations := axe.blocking(page):
            found[path] = axe.describe(violations)
        # The page itself never scrolls sideways; wide code and tables scroll in their box.
        if (scroll_width := page.evaluate("document.documentElement.scrollWidth")) > width:
            found[path + " (sideways)"] = f"{scroll_width} px wide on a {width} px screen"
    # After a demo ran, its results (PID chips, timeline, table) are on the lesson page.
    _open(page, base + "/lessons/no-pooling/")
    lock_in(page, "demo-1", 10)
    page.locator("#demo-1 form button[type=submit]").click()
    page.locator("section.demo .run[data-status=done]").first.wait_for(timeout=30_000)
    _settle(page)
    if violations := axe.blocking(page):
        found["/lessons/no-pooling/ after its demo"] = axe.describe(violations)
    assert found == {}, "\n".join(f"{path}:\n{text}" for path, text in found.items())
    assert trouble == []


@pytest.mark.browser
def test_code_blocks_are_reached_by_tab_and_scroll_with_the_keyboard(lab):
    with chromium(viewport=PHONE) as context:
        _tab_to_a_wide_code_block_and_scroll_it(context.new_page(), lab.url)


def _tab_to_a_wide_code_block_and_scroll_it(page, base: str) -> None:
    _open(page, base + "/lessons/pgbouncer-pitfalls/")
    wide = page.locator(".highlight pre").evaluate_all(
        "blocks => blocks.map(b => b.scrollWidth > b.clientWidth)"
    )
    target = page.locator(".highlight pre").nth(wide.index(True))
    assert target.get_attribute("role") == "region"
    assert re.fullmatch(r"Code example \d+( \(.+\))?", target.get_attribute("aria-label") or "")
    for _ in range(200):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the wide code block")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("el => el.scrollLeft > 0", arg=target.element_handle())


@pytest.mark.browser
def test_heading_permalinks_are_named_for_their_section(lab):
    with chromium() as context:
        page = context.new_page()
        _open(page, lab.url + "/lessons/native-pool/")
        _each_permalink_is_named(page)


def _each_permalink_is_named(page) -> None:
    assert page.get_by_role("link", name="#", exact=True).count() == 0
    headings = page.locator("article h2:has(.headerlink), article h3:has(.headerlink)")
    assert headings.count() >= 3
    for heading in headings.all():
        title = heading.evaluate(
            "h => [...h.childNodes].filter(n => !n.classList?.contains('headerlink'))"
            ".map(n => n.textContent).join('').trim()"
        )
        link = heading.get_by_role("link", name=f"Link to this section: {title}", exact=True)
        assert link.count() == 1, title


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_copy_button_sits_above_the_code_never_over_it(lab, viewport):
    with chromium(viewport=viewport) as context:
        page = context.new_page()
        _open(page, lab.url + "/lessons/native-pool/")
        blocks = page.locator(".prose .highlight")
        assert blocks.count() >= 2
        for block in blocks.all():
            button = block.locator(".copy").bounding_box()
            code = block.locator("pre").bounding_box()
            assert button["y"] + button["height"] <= code["y"], (button, code)


@pytest.mark.browser
def test_the_favicon_is_linked_and_served(lab):
    with chromium() as context:
        page = context.new_page()
        _open(page, lab.url + "/")
        href = page.locator("link[rel=icon]").get_attribute("href")
    status, body, headers = Http(lab.url).request("GET", href)
    assert status == 200
    assert headers["Content-Type"].startswith("image/svg+xml")
    assert body.startswith(b"<svg")


@pytest.mark.browser
def test_nothing_moves_for_a_learner_who_asks_for_reduced_motion(lab):
    with chromium(reduced_motion="reduce") as context:
        page = context.new_page()
        _open(page, lab.url + "/lessons/no-pooling/")
        lock_in(page, "demo-1", 10)
        page.locator("#demo-1 form button[type=submit]").click()
        # No CSS animation or transition runs: not while htmx swaps a run in, not after.
        page.locator("section.demo .run").first.wait_for(timeout=30_000)
        running = page.evaluate("document.getAnimations().length")
        page.locator("section.demo .run[data-status=done]").first.wait_for(timeout=30_000)
        assert (running, page.evaluate("document.getAnimations().length")) == (0, 0)
