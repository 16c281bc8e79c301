"""A deployment's worker processes: pid, cores, GPU, CPU %, RSS and state."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from runtime.status import WorkerStatus
from tui.widgets.tables import Cell, SnapshotTable
from tui.widgets.text import cores, mib, percent

_STATE_STYLE = {"Ready": "green", "Running": "green", "Failed": "bold red", "Restarting": "yellow", "Unready": "yellow"}


def worker_key(w: WorkerStatus) -> str:
    """`instance.process`: the row key, and how the restart action names the worker."""
    return f"{w.instance}.{w.process}"


class WorkerTable(SnapshotTable):
    """One row per worker process."""

    COLUMNS = (
        ("Worker", "worker"),
        ("PID", "pid"),
        ("State", "state"),
        ("Cores", "cores"),
        ("GPU", "gpu"),
        ("CPU %", "cpu"),
        ("RSS MiB", "rss"),
    )

    def show(self, workers: Sequence[WorkerStatus]) -> None:
        """Show these workers."""
        self.sync([(worker_key(w), _cells(w)) for w in workers])


def _cells(w: WorkerStatus) -> tuple[Cell, ...]:
    gpus = ",".join(map(str, w.gpus)) or "-"
    state = Text(w.state, style=_STATE_STYLE.get(w.state, ""))
    pid = "-" if w.pid is None else str(w.pid)
    return (worker_key(w), pid, state, cores(w.cores), gpus, percent(w.cpu_percent), mib(w.rss_bytes))
