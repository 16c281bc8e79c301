"""What every status screen is given by the app: the latest snapshot, each deployment's history, the banner."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from textual.css.query import NoMatches
from textual.screen import Screen

from runtime.status import DeploymentStatus, Status

#: Snapshots a sparkline spans (at the default 2 s interval, two minutes).
HISTORY = 60


@dataclass
class History:
    """A deployment's recent figures, oldest first, one entry per snapshot."""

    requests_per_s: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    """Requests per second."""
    p99_ms: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    """p99 latency in ms (0 while there were no requests)."""

    def add(self, d: DeploymentStatus) -> None:
        """Append one snapshot's figures."""
        self.requests_per_s.append(d.requests_per_s)
        self.p99_ms.append(d.p99_ms or 0.0)


class StatusScreen(Screen[None]):
    """A screen that shows the status; the app calls `show` with each snapshot and on each change of the banner."""

    def __init__(self) -> None:
        super().__init__()
        self._given: tuple[Status | None, dict[tuple[str, str], History], str | None] | None = None
        self._ready = False

    def show(self, status: Status | None, history: dict[tuple[str, str], History], banner: str | None) -> None:
        """Take this snapshot (None before the first one arrived) and banner (None: the server answers)."""
        self._given = (status, history, banner)
        if self._ready:
            try:
                self.draw(status, history, banner)
            except NoMatches:
                # The app is closing and this screen's widgets are gone already; there is nothing to draw on.
                pass

    def on_mount(self) -> None:
        """Draw what was given before the widgets existed."""
        self._ready = True
        if self._given is not None:
            self.draw(*self._given)

    def draw(self, status: Status | None, history: dict[tuple[str, str], History], banner: str | None) -> None:
        """Draw it; each screen says how."""
        raise NotImplementedError
