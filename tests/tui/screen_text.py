"""What a running app shows, as plain text lines, and waiting on it."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot


def screen_text(app: App[None]) -> str:
    """Every line of the terminal as it is drawn now (what a person would see, nothing clipped off counted)."""
    return "\n".join(strip.text.rstrip() for strip in app.screen._compositor.render_strips())


async def until(pilot: Pilot[None], ok: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Let the app run until `ok()` holds; fail saying `what` did not happen."""
    deadline = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < deadline, f"{what} did not happen; the screen shows:\n{screen_text(pilot.app)}"
        await pilot.pause(0.05)
