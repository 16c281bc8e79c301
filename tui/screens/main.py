"""The overview: endpoints with their traffic split, the selected endpoint's deployments, and batch jobs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from runtime.status import DeploymentStatus, EndpointStatus, Status
from tui.messages import OpenDeployment
from tui.screens import actions
from tui.screens.base import History, StatusScreen
from tui.widgets import Banner, DeploymentTable, EndpointTable, JobTable, TrafficBar


class MainScreen(StatusScreen):
    """Endpoints (pick one with the cursor), its deployments (Enter opens one), and jobs."""

    BINDINGS = [
        Binding("t", "traffic", "Traffic"),
        Binding("s", "scale", "Scale"),
        Binding("c", "cancel_job", "Cancel job"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._status: Status | None = None

    def compose(self) -> ComposeResult:
        """Banner, three sections, footer."""
        yield Banner(id="banner")
        yield Static("Endpoints", classes="heading")
        yield EndpointTable(id="endpoints")
        yield TrafficBar(id="split")
        yield Static("Deployments", id="deployments-heading", classes="heading")
        yield DeploymentTable(id="deployments")
        yield Static("Batch jobs", classes="heading")
        yield JobTable(id="jobs")
        yield Footer()

    def draw(self, status: Status | None, history: dict[tuple[str, str], History], banner: str | None) -> None:
        """Draw the snapshot."""
        self.query_one(Banner).show(banner)
        if status is None:
            return
        self._status = status
        self.query_one(EndpointTable).show(status.endpoints)
        self.query_one(JobTable).show(status.jobs)
        self._show_endpoint()

    def _endpoint(self) -> EndpointStatus | None:
        key = self.query_one(EndpointTable).selected
        if self._status is None:
            return None
        return next((e for e in self._status.endpoints if e.name == key), None)

    def _deployments(self, endpoint: str) -> list[DeploymentStatus]:
        return [d for d in self._status.deployments if d.endpoint == endpoint] if self._status else []

    def _deployment(self) -> DeploymentStatus | None:
        endpoint = self._endpoint()
        key = self.query_one(DeploymentTable).selected
        if endpoint is None:
            return None
        return next((d for d in self._deployments(endpoint.name) if d.name == key), None)

    def _show_endpoint(self) -> None:
        endpoint = self._endpoint()
        deployments = self._deployments(endpoint.name) if endpoint else []
        order = [d.name for d in deployments]
        bar = self.query_one(TrafficBar)
        if endpoint is None:
            bar.show({}, {}, [])
        else:
            bar.show({n: endpoint.traffic.get(n, 0) for n in order} | endpoint.traffic, endpoint.mirror, order)
        heading = f"Deployments of {endpoint.name} (Enter: details)" if endpoint else "Deployments"
        self.query_one("#deployments-heading", Static).update(heading)
        self.query_one(DeploymentTable).show(deployments)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The endpoint cursor picks whose deployments and split are shown."""
        if event.data_table.id == "endpoints":
            self._show_endpoint()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a deployment (or on an endpoint: its first deployment) opens its screen."""
        if event.data_table.id == "endpoints":
            self.query_one(DeploymentTable).focus()
            return
        d = self._deployment() if event.data_table.id == "deployments" else None
        if d is not None:
            self.post_message(OpenDeployment(d.endpoint, d.name))

    def action_traffic(self) -> None:
        """Change the selected endpoint's traffic."""
        endpoint = self._endpoint()
        if endpoint is None:
            self.notify("no endpoint selected", severity="warning")
            return
        actions.change_traffic(self, endpoint, [d.name for d in self._deployments(endpoint.name)])

    def action_scale(self) -> None:
        """Scale the selected deployment."""
        d = self._deployment()
        if d is None:
            self.notify("no deployment selected", severity="warning")
            return
        actions.scale(self, d)

    def action_cancel_job(self) -> None:
        """Cancel the selected batch job."""
        key = self.query_one(JobTable).selected
        job = next((j for j in self._status.jobs if j.name == key), None) if self._status else None
        if job is None:
            self.notify("no batch job selected", severity="warning")
            return
        actions.cancel_job(self, job)
