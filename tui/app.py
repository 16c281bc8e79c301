"""The dashboard app: polls the status in a worker, keeps the last snapshot and history, and hands them down.

Screens never call the server for the status: the app's poller posts StatusArrived or ServerLost, the app keeps
the newest snapshot (the last good one while the server is gone) and calls `show` on every status screen.
Screens post ActionRequested up; the app runs the call in a worker and reports its outcome as a notification.
"""

from __future__ import annotations

import asyncio
import time

from textual import work
from textual.app import App

from runtime.status import Status
from tui.link import Link, LinkError, ServerLink
from tui.messages import ActionDone, ActionRequested, OpenDeployment, ServerLost, StatusArrived
from tui.screens import DeploymentScreen, History, MainScreen, StatusScreen


class DashboardApp(App[None]):
    """`modelyard dashboard`."""

    CSS_PATH = "dashboard.tcss"
    TITLE = "modelyard dashboard"

    def __init__(self, link: Link, *, interval: float = 2.0, poll: bool = True) -> None:
        super().__init__()
        self.link = link
        """Where the status and the actions go."""
        self.interval = interval
        """Seconds between status polls (and log polls)."""
        self.snapshot: Status | None = None
        """The newest status; kept while the server does not answer."""
        self.history: dict[tuple[str, str], History] = {}
        """Each deployment's recent figures, for the sparklines."""
        self.lost_since: float | None = None
        """When the server stopped answering (None while it answers)."""
        self._poll = poll
        self._lost_reason = ""
        self._lost_url = ""
        self._wake = asyncio.Event()

    def on_mount(self) -> None:
        """Show the overview and start polling."""
        self.push_screen(MainScreen())
        if self._poll:
            self.poll_status()

    @work(exclusive=True, group="status")
    async def poll_status(self) -> None:
        """Fetch the status every interval (at once after an action), forever; failures are news, not errors."""
        while True:
            try:
                status = await asyncio.to_thread(self.link.status)
            except LinkError as exc:
                self.post_message(ServerLost(self.link.url, str(exc)))
            else:
                self.post_message(StatusArrived(status))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                pass

    def show_status(self, status: Status) -> None:
        """Take a snapshot (as the poller does): keep it, extend the history, redraw."""
        self.snapshot = status
        self.lost_since = None
        live = set()
        for d in status.deployments:
            key = (d.endpoint, d.name)
            live.add(key)
            self.history.setdefault(key, History()).add(d)
        for key in set(self.history) - live:
            del self.history[key]
        self._redraw()

    def on_status_arrived(self, message: StatusArrived) -> None:
        """A snapshot from the poller."""
        self.show_status(message.status)

    def on_server_lost(self, message: ServerLost) -> None:
        """The poll failed: say so over the last data, which stays on screen."""
        if self.lost_since is None:
            self.lost_since = time.time()
        self._lost_reason = message.reason
        self._lost_url = message.url
        self._redraw()

    def banner(self) -> str | None:
        """The banner while the server does not answer, else None."""
        if self.lost_since is None:
            return None
        since = time.strftime("%H:%M:%S", time.localtime(self.lost_since))
        where = f"server at {self._lost_url}" if self._lost_url else "the server"
        return f"{where} not answering since {since}; retrying every {self.interval:g} s ({self._lost_reason})"

    def _redraw(self) -> None:
        banner = self.banner()
        for screen in self.screen_stack:
            if isinstance(screen, StatusScreen):
                screen.show(self.snapshot, self.history, banner)

    def on_open_deployment(self, message: OpenDeployment) -> None:
        """A deployment's screen, drawn at once from the last snapshot."""
        screen = DeploymentScreen(self.link, message.endpoint, message.deployment, self.interval)
        self.push_screen(screen)
        screen.show(self.snapshot, self.history, self.banner())

    def on_action_requested(self, message: ActionRequested) -> None:
        """Run a confirmed action."""
        self.act(message)

    @work(group="actions")
    async def act(self, request: ActionRequested) -> None:
        """Make the call off the UI loop; its outcome comes back as ActionDone."""
        try:
            detail = await asyncio.to_thread(request.run, self.link)
        except LinkError as exc:
            self.post_message(ActionDone(request.what, str(exc)))
        else:
            self.post_message(ActionDone(request.what, None, detail))

    def on_action_done(self, message: ActionDone) -> None:
        """Say how it went, and fetch the status at once so the change shows."""
        if message.error is None:
            detail = f" ({message.detail})" if message.detail else ""
            self.notify(f"done: {message.what}{detail}", title="Done")
        else:
            self.notify(f"could not {message.what}: {message.error}", title="Refused", severity="error", timeout=10)
        self._wake.set()


def run_dashboard(*, state_dir: str | None, url: str | None, token: str, interval: float) -> None:
    """Open the dashboard on the server of `state_dir`, or at `url` with `token`; returns when the user quits."""
    link = ServerLink(state_dir=state_dir) if url is None else ServerLink(url=url, token=token)
    DashboardApp(link, interval=interval).run()
