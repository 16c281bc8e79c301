"""An endpoint's live traffic and mirror split drawn as stacked bars, one colour per deployment."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widget import Widget

from tui.widgets.text import PALETTE


class TrafficBar(Widget):
    """Two lines: the traffic split as one stacked bar, and the mirrored share of each deployment."""

    DEFAULT_CSS = """
    TrafficBar { height: 2; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._traffic: dict[str, int] = {}
        self._mirror: dict[str, int] = {}
        self._order: list[str] = []

    def show(self, traffic: Mapping[str, int], mirror: Mapping[str, int], order: list[str]) -> None:
        """Draw this split; `order` (the endpoint's deployments) fixes each deployment's colour."""
        self._traffic, self._mirror, self._order = dict(traffic), dict(mirror), list(order)
        self.refresh()

    def _colour(self, name: str) -> str:
        index = self._order.index(name) if name in self._order else len(self._order)
        return PALETTE[index % len(PALETTE)]

    def render(self) -> Text:
        """The two lines, sized to the widget's width."""
        legend = Text()
        for name, pct in self._traffic.items():
            legend.append("■ ", style=self._colour(name)).append(f"{name} {pct}%  ")
        width = max(10, self.size.width - 2 - 9 - len(legend.plain))
        line = Text("traffic  ")
        total = sum(self._traffic.values())
        used = 0
        for name, pct in self._traffic.items():
            cells = round(width * pct / 100) if total else 0
            cells = min(cells, width - used)
            line.append("█" * cells, style=self._colour(name))
            used += cells
        line.append("░" * (width - used), style="grey35")
        line.append("  ").append_text(legend)
        mirrored = {n: p for n, p in self._mirror.items() if p}
        mirror = Text("mirror   ")
        if not mirrored:
            mirror.append("none", style="dim")
        for name, pct in mirrored.items():
            mirror.append("▒" * max(1, round(width * pct / 100)), style=self._colour(name))
            mirror.append(f" {name} {pct}% copied  ")
        return Text("\n").join([line, mirror])
