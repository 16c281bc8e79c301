"""The dashboard driven with Textual's pilot against a real `modelyard serve`: navigate, change traffic, scale,
restart a worker, and ride out the server going away and coming back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from pathlib import Path

from live import FIXTURES, Server, serving, worker_pids
from screen_text import screen_text, until
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import DashboardApp
from tui.link import ServerLink


def _drive(
    srv: Server, scenario: Callable[[DashboardApp, Pilot[None]], Awaitable[None]], link: ServerLink | None = None
) -> None:
    async def run() -> None:
        app = DashboardApp(link or ServerLink(state_dir=str(srv.state)), interval=0.2)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await until(pilot, lambda: "echo" in screen_text(app), "the first status")
            await scenario(app, pilot)

    asyncio.run(run())


def _serving(tmp_path: Path) -> AbstractContextManager[Server]:
    return serving(tmp_path / "state", FIXTURES / "endpoint.yml", FIXTURES / "echo-deployment.yml")


async def _answer(pilot: Pilot[None], text: str) -> None:
    """Type `text` into the open dialog's input and submit it."""
    await until(pilot, lambda: bool(pilot.app.screen.query(Input)), "the input dialog")
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


def _screen(app: DashboardApp) -> str:
    return type(app.screen).__name__


def test_change_traffic_and_scale_from_the_dashboard(tmp_path: Path) -> None:
    with _serving(tmp_path) as srv:
        srv.deploy_echo("-n", "green")

        def endpoint() -> dict[str, object]:
            shown = srv.json("online-endpoint", "show", "-n", "fix")
            assert isinstance(shown, dict)
            return shown

        async def scenario(app: DashboardApp, pilot: Pilot[None]) -> None:
            await until(pilot, lambda: "green" in screen_text(app), "both deployments")
            await pilot.press("t")
            await _answer(pilot, "echo=70 green=20")
            await until(pilot, lambda: "add up to 90" in screen_text(app), "the refusal of a split of 90")
            assert _screen(app) == "AskScreen"
            await _answer(pilot, "echo=70 green=30")
            await until(pilot, lambda: _screen(app) == "ConfirmScreen", "the confirmation")
            assert "echo=70 green=30" in screen_text(app) and "now echo=100 green=0" in screen_text(app)
            await pilot.press("y")
            await until(pilot, lambda: "echo 70% green 30%" in screen_text(app), "the new split in the dashboard")
            assert endpoint()["traffic"] == {"echo": 70, "green": 30}

            await pilot.press("tab", "down", "s")  # the deployments table, its second row (green), scale
            await _answer(pilot, "2")
            await until(pilot, lambda: _screen(app) == "ConfirmScreen", "the scale confirmation")
            assert "from 1 to 2 instances" in screen_text(app)
            await pilot.press("y")
            await until(pilot, lambda: "green       Succeeded  2/2" in screen_text(app), "green with 2 ready workers")

        _drive(srv, scenario)
        shown = srv.json("online-deployment", "show", "-n", "green", "-e", "fix")
        assert isinstance(shown, dict) and shown["instance_count"] == 2


def test_restart_a_worker_from_the_dashboard_gives_it_a_new_pid(tmp_path: Path) -> None:
    with _serving(tmp_path) as srv:
        (old,) = worker_pids(srv, "fix", "echo", "Ready")

        async def scenario(app: DashboardApp, pilot: Pilot[None]) -> None:
            await pilot.press("tab", "enter")  # the deployments table, open echo
            await until(pilot, lambda: str(old) in screen_text(app), "the worker table with its pid")
            assert "Log of instance 0" in screen_text(app)
            await pilot.press("r")
            await until(pilot, lambda: _screen(app) == "ConfirmScreen", "the restart confirmation")
            assert f"pid {old}" in screen_text(app)
            await pilot.press("y")
            await until(pilot, lambda: worker_pids(srv, "fix", "echo", "Ready") not in ([old], []), "a new worker")
            (new,) = worker_pids(srv, "fix", "echo", "Ready")
            await until(pilot, lambda: str(new) in screen_text(app), "the new pid in the dashboard")
            assert str(old) not in screen_text(app).split("Log of instance")[0]

        # --url and --token: the server's address and admin token given, not found through the state directory.
        _drive(srv, scenario, ServerLink(url=srv.url, token=(srv.state / "admin-token").read_text().strip()))


def test_the_dashboard_rides_out_a_server_restart(tmp_path: Path) -> None:
    with _serving(tmp_path) as srv:
        (old,) = worker_pids(srv, "fix", "echo", "Ready")

        async def scenario(app: DashboardApp, pilot: Pilot[None]) -> None:
            await pilot.press("tab", "enter")  # open echo: its worker's pid shows
            await until(pilot, lambda: str(old) in screen_text(app), "the worker's pid")
            await asyncio.to_thread(srv.stop)
            await until(pilot, lambda: "not answering since" in screen_text(app), "the banner")
            assert srv.url in screen_text(app) and "retrying" in screen_text(app)
            assert str(old) in screen_text(app)  # the last data stays
            await asyncio.to_thread(srv.start)  # the same state directory, a new port
            await until(pilot, lambda: bool(worker_pids(srv, "fix", "echo", "Ready")), "the worker back")
            (new,) = worker_pids(srv, "fix", "echo", "Ready")
            await until(pilot, lambda: str(new) in screen_text(app), "the restarted server's worker")
            assert "not answering" not in screen_text(app)

        _drive(srv, scenario)
