"""Helpers for tests that predict before they run, over HTTP or in Chromium."""

from __future__ import annotations

import re
from typing import Any

from .support import Http

HTMX = {"HX-Request": "true"}


def predict(site: Http, slug: str, checkpoint: str, guess: Any) -> tuple[int, str]:
    """Lock in a guess the way the page does (an htmx form post)."""
    status, body, _ = site.request(
        "POST",
        f"/lessons/{slug}/checkpoints/{checkpoint}/predict/",
        form={"guess": str(guess)},
        headers=HTMX,
    )
    return status, body.decode()


def run_form(slug: str, demo: str, **fields: Any) -> dict[str, str]:
    """The hidden fields a lesson's burst form posts."""
    return {"lesson": slug, "demo": demo, **{k: str(v) for k, v in fields.items()}}


def start_predicted_run(site: Http, slug: str, checkpoint: str, form: dict) -> tuple[int, str]:
    status, body, _ = site.request(
        "POST", f"/lessons/{slug}/checkpoints/{checkpoint}/run/", form=form, headers=HTMX
    )
    return status, body.decode()


def run_id(html: str) -> int:
    return int(re.search(r'data-run-id="(\d+)"', html).group(1))


def box(site: Http, slug: str, checkpoint: str) -> dict[str, str]:
    """The figures the prediction box shows now: guess, measured, verdict."""
    html = site.text(f"/lessons/{slug}/checkpoints/{checkpoint}/")
    found = dict(re.findall(r'data-testid="(guess|measured)">([^<]*)<', html))
    verdict = re.search(r'<p class="verdict verdict-(\w+)"', html)
    found["verdict"] = verdict.group(1) if verdict else ""
    return found


def lock_in(page: Any, anchor: str, guess: str | int) -> None:
    """In Chromium: answer a demo's checkpoint (a number, or the index of a choice)."""
    predict_box = page.locator(f"#{anchor}-predict")
    predict_box.wait_for()
    if page.locator(f"#{anchor}-predict[data-committed]").count():
        return  # this learner locked in a guess before (a guess is kept, like an answer)
    numbers = predict_box.locator("input[type=number][name=guess]")
    if numbers.count():
        numbers.fill(str(guess))
    else:
        predict_box.locator("input[type=radio][name=guess]").nth(int(guess)).check()
    predict_box.get_by_role("button", name="Lock in my guess").click()
    page.locator(f"#{anchor}-predict[data-committed]").wait_for()
