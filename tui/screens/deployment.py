"""One deployment: its workers, request rate and p99 as sparklines, errors, the autoscaler, and its log."""

from __future__ import annotations

import asyncio

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Log, Sparkline, Static

from runtime.status import DeploymentStatus, Status, WorkerStatus
from tui.link import Link, LinkError
from tui.screens import actions
from tui.screens.base import History, StatusScreen
from tui.widgets import Banner, WorkerTable
from tui.widgets.text import counts, ms, rate
from tui.widgets.worker_table import worker_key

#: Lines of the log pane.
LOG_LINES = 200


class DeploymentScreen(StatusScreen):
    """The deployment `endpoint/name`; the log pane follows the instance of the worker under the cursor."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "restart", "Restart worker"),
        Binding("s", "scale", "Scale"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, link: Link, endpoint: str, name: str, interval: float) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.deployment = name
        self._link = link
        self._interval = interval
        self._shown: DeploymentStatus | None = None
        self._log_text: str | None = None

    def compose(self) -> ComposeResult:
        """Banner, title, sparklines, facts, workers, log, footer."""
        yield Banner(id="banner")
        yield Static(f"{self.endpoint} / {self.deployment}", id="title")
        with Horizontal(id="sparks"):
            with Vertical(classes="spark"):
                yield Static("requests/s", id="rps-label")
                yield Sparkline([], id="rps")
            with Vertical(classes="spark"):
                yield Static("p99 ms", id="p99-label")
                yield Sparkline([], id="p99")
        yield Static("", id="facts")
        yield WorkerTable(id="workers")
        yield Static("Log", id="log-heading", classes="heading")
        yield Log(id="log", max_lines=LOG_LINES * 2)
        yield Footer()

    def on_mount(self) -> None:
        """Draw, and start following the log."""
        super().on_mount()
        self.follow_log()

    def draw(self, status: Status | None, history: dict[tuple[str, str], History], banner: str | None) -> None:
        """Draw this deployment as the snapshot has it."""
        self.query_one(Banner).show(banner)
        if status is None:
            return
        d = next((d for d in status.deployments if (d.endpoint, d.name) == (self.endpoint, self.deployment)), None)
        self._shown = d
        if d is None:
            self.query_one("#title", Static).update(f"{self.endpoint} / {self.deployment}: gone (deleted?)")
            return
        self.query_one("#title", Static).update(
            f"[b]{d.endpoint} / {d.name}[/b]  {d.kind} · {d.state} · {d.instance_count} instance(s)"
        )
        past = history.get((d.endpoint, d.name))
        if past is not None:
            self.query_one("#rps", Sparkline).data = list(past.requests_per_s)
            self.query_one("#p99", Sparkline).data = list(past.p99_ms)
        self.query_one("#rps-label", Static).update(f"requests/s  {rate(d.requests_per_s)}  (in flight {d.in_flight})")
        self.query_one("#p99-label", Static).update(f"p99 ms  {ms(d.p99_ms)}  (p50 {ms(d.p50_ms)})")
        self.query_one("#facts", Static).update(_facts(d))
        self.query_one(WorkerTable).show(d.workers)

    def _worker(self) -> WorkerStatus | None:
        key = self.query_one(WorkerTable).selected
        if self._shown is None:
            return None
        return next((w for w in self._shown.workers if worker_key(w) == key), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Another worker: follow its instance's log at once."""
        self.follow_log()

    @work(exclusive=True, group="log")
    async def follow_log(self) -> None:
        """Poll the log of the selected worker's instance every interval; a failure shows in the pane."""
        pane, heading = self.query_one(Log), self.query_one("#log-heading", Static)
        while True:
            worker = self._worker()
            instance = worker.instance if worker is not None else 0
            heading.update(f"Log of instance {instance}")
            try:
                text = await asyncio.to_thread(self._link.logs, self.endpoint, self.deployment, instance, LOG_LINES)
            except LinkError as exc:
                text = f"(no log: {exc})\n"
            if text != self._log_text:
                self._log_text = text
                pane.clear()
                pane.write(text)
            await asyncio.sleep(self._interval)

    def action_restart(self) -> None:
        """Restart the worker under the cursor."""
        w = self._worker()
        if self._shown is None or w is None:
            self.notify("no worker selected", severity="warning")
            return
        actions.restart(self, self._shown, w)

    def action_scale(self) -> None:
        """Scale this deployment."""
        if self._shown is None:
            self.notify("this deployment is not in the status (yet)", severity="warning")
            return
        actions.scale(self, self._shown)


def _facts(d: DeploymentStatus) -> str:
    errors = counts(d.errors_by_status)
    lines = [
        f"requests {d.requests}  errors {errors}  429s {d.throttled}  mirrored {d.mirrored}  "
        f"queue p99 {ms(d.queue_wait_p99_ms)} ms  core-s {d.core_seconds:.0f}  GPU-s {d.gpu_seconds:.0f}"
    ]
    a = d.autoscale
    if a is None:
        lines.append("autoscale: off (fixed instance_count)")
    else:
        last = f"last {a.last_decision}" + (f": {a.why}" if a.why else "") if a.last_decision else "no decision yet"
        lines.append(f"autoscale: {a.current} → target {a.target}; {last}")
    return "\n".join(lines)
