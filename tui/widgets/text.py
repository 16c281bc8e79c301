"""How figures read in the dashboard: short, fixed formats that fit a narrow terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: Deployment colours, in the order an endpoint lists its deployments.
PALETTE = ("dodger_blue1", "green3", "orange1", "magenta", "cyan", "yellow", "red")


def ms(value: float | None) -> str:
    """Milliseconds, or a dash without a figure."""
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def rate(value: float) -> str:
    """Requests per second."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def percent(value: float | None) -> str:
    """A percentage, or a dash."""
    return "-" if value is None else f"{value:.0f}"


def mib(value: int | None) -> str:
    """Bytes as MiB, or a dash."""
    return "-" if value is None else f"{value / 2**20:.0f}"


def duration(seconds: float | None) -> str:
    """1h02m, 3m05s, 42s; a dash without a figure."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def cores(ids: Sequence[int]) -> str:
    """Core ids as ranges: 0-3,8."""
    if not ids:
        return "-"
    runs: list[str] = []
    start = prev = ids[0]
    for i in [*ids[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ",".join(runs)


def split(shares: Mapping[str, int]) -> str:
    """`blue 80 green 20`: a split in a table cell (deployments at 0 left out)."""
    return " ".join(f"{n} {p}%" for n, p in shares.items() if p) or "-"


def counts(by_status: Mapping[str, int]) -> str:
    """`500:2 503:1`: errors by HTTP status."""
    return " ".join(f"{s}:{n}" for s, n in sorted(by_status.items())) or "0"
