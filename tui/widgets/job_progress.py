"""Batch jobs with a progress bar each: files done and failed of the total, and the time left."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from runtime.status import JobStatus
from tui.widgets.tables import Cell, SnapshotTable
from tui.widgets.text import duration

#: Cells of each progress bar: short enough that an 80-column terminal shows the whole row.
BAR_CELLS = 16


def progress(job: JobStatus) -> Text:
    """The bar (done in green, failed in red) and the percentage of files finished."""
    total = max(job.files_total, 1)
    done = round(BAR_CELLS * job.files_done / total)
    failed = min(BAR_CELLS - done, round(BAR_CELLS * job.files_failed / total))
    text = Text()
    text.append("█" * done, style="green").append("█" * failed, style="red")
    text.append("░" * (BAR_CELLS - done - failed), style="grey35")
    finished = (job.files_done + job.files_failed) / total if job.files_total else 0.0
    return text.append(f" {finished:4.0%}")


class JobTable(SnapshotTable):
    """One row per batch job."""

    COLUMNS = (
        ("Job", "name"),
        ("State", "state"),
        ("Progress", "progress"),
        ("Files", "files"),
        ("ETA", "eta"),
    )

    def show(self, jobs: Sequence[JobStatus]) -> None:
        """Show these jobs."""
        self.sync([(j.name, _cells(j)) for j in jobs])


def _cells(j: JobStatus) -> tuple[Cell, ...]:
    files = f"{j.files_done}/{j.files_total}" + (f" ({j.files_failed} failed)" if j.files_failed else "")
    return (j.name, j.state, progress(j), files, duration(j.eta_s))
