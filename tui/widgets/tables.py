"""Row tables kept in place as snapshots arrive: the endpoint and deployment tables, and their common base."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from runtime.status import DeploymentStatus, EndpointStatus
from tui.widgets.text import counts, ms, rate, split

Cell = str | Text
Row = tuple[str, Sequence[Cell]]


class SnapshotTable(DataTable[Cell]):
    """A row-cursor table whose rows are replaced by each snapshot while the cursor stays on the same key."""

    #: (label, key) of each column, left to right: key figures first, so a narrow terminal cuts only the rest.
    COLUMNS: tuple[tuple[str, str], ...] = ()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        """Add the columns."""
        for label, key in self.COLUMNS:
            self.add_column(label, key=key)

    @property
    def selected(self) -> str | None:
        """The key of the row under the cursor, or None in an empty table."""
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return key

    def sync(self, rows: Sequence[Row]) -> None:
        """Show these rows: cells are updated in place when the rows are the same ones, else the table is rebuilt."""
        keys = [key for key, _ in rows]
        if keys == [r.value for r in self.rows]:
            for key, cells in rows:
                for (_, column), cell in zip(self.COLUMNS, cells, strict=True):
                    self.update_cell(key, column, cell, update_width=True)
            return
        keep = self.selected
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if keep in keys:
            self.move_cursor(row=keys.index(keep))


class EndpointTable(SnapshotTable):
    """One row per endpoint: its kind, live traffic and mirror."""

    COLUMNS = (("Endpoint", "name"), ("Kind", "kind"), ("Traffic", "traffic"), ("Mirror", "mirror"))

    def show(self, endpoints: Sequence[EndpointStatus]) -> None:
        """Show these endpoints."""
        self.sync([(e.name, (e.name, e.kind, split(e.traffic), split(e.mirror))) for e in endpoints])


class DeploymentTable(SnapshotTable):
    """One row per deployment of an endpoint: state, workers, traffic figures, autoscaler."""

    COLUMNS = (
        ("Deployment", "name"),
        ("State", "state"),
        ("Ready", "ready"),
        ("Req/s", "rps"),
        ("p99 ms", "p99"),
        ("Errors", "errors"),
        ("Autoscale", "autoscale"),
    )

    def show(self, deployments: Sequence[DeploymentStatus]) -> None:
        """Show these deployments."""
        self.sync([(d.name, _deployment_cells(d)) for d in deployments])


def _deployment_cells(d: DeploymentStatus) -> tuple[Cell, ...]:
    ready = sum(1 for w in d.workers if w.state in ("Ready", "Running"))
    scale = "-" if d.autoscale is None else f"{d.autoscale.current}→{d.autoscale.target}"
    state = Text(d.state, style="red" if d.state == "Failed" else "")
    return (
        d.name,
        state,
        f"{ready}/{len(d.workers)}",
        rate(d.requests_per_s),
        ms(d.p99_ms),
        counts(d.errors_by_status),
        scale,
    )
