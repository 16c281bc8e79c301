"""The main and deployment screens drawn from recorded snapshots: SVG snapshots at 120x40 and 80x24, and the key
figures whole on the smaller terminal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from fakes import FakeLink, recorded
from screen_text import screen_text, until
from textual.pilot import Pilot
from textual.widgets import Log

from tui.app import DashboardApp

SIZES = [(120, 40), (80, 24)]


def _app() -> DashboardApp:
    return DashboardApp(FakeLink(), poll=False)


async def _main(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, DashboardApp)
    for status in recorded():
        app.show_status(status)
    await pilot.pause()


async def _deployment(pilot: Pilot[None]) -> None:
    await _main(pilot)
    await pilot.press("tab", "enter")  # to the deployments table, open the first one (blue)
    await until(pilot, lambda: bool(pilot.app.screen.query(Log) and pilot.app.screen.query_one(Log).lines), "log")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", [_main, _deployment], ids=["main", "deployment"])
def test_screen_snapshot(
    snap_compare: Callable[..., bool], screen: Callable[..., object], size: tuple[int, int]
) -> None:
    assert snap_compare(_app(), terminal_size=size, run_before=screen)


def _shown(screen: Callable[[Pilot[None]], object], size: tuple[int, int]) -> str:
    async def run() -> str:
        app = _app()
        async with app.run_test(size=size) as pilot:
            await screen(pilot)  # type: ignore[misc]
            return screen_text(app)

    return asyncio.run(run())


def test_main_screen_key_fields_fit_80x24() -> None:
    text = _shown(_main, (80, 24))
    every_endpoint = ["fraud-detector", "digits", "nightly-scoring"]
    split = ["blue 80%", "green 20%", "green 10%"]  # traffic (table and bar legend) and mirror
    deployments = ["blue ", "green ", "Succeeded", "2/2", "0/1"]  # the selected endpoint's, with ready workers
    jobs = ["batchjob-7f3a", "batchjob-1c02", "47%", "90/200 (4 failed)", "55s"]
    for field in every_endpoint + split + deployments + jobs:
        assert field in text, f"{field!r} is not on the 80x24 main screen:\n{text}"
    assert text.count("blue 80%") == 2, text  # the endpoint table and the traffic bar's legend


def test_deployment_screen_key_fields_fit_80x24() -> None:
    text = _shown(_deployment, (80, 24))
    for field in ["fraud-detector / blue", "41021", "41022", "Ready", "0-1", "2-3", "24.8", "57.3", "target 3"]:
        assert field in text, f"{field!r} is not on the 80x24 deployment screen:\n{text}"
    assert "init() of blue instance 0 done" in text  # the log pane follows the selected worker's instance


def test_server_refusal_is_shown_and_the_app_goes_on() -> None:
    link = FakeLink(refuse="no deployment 'green' on endpoint 'fraud-detector'")

    async def run() -> None:
        app = DashboardApp(link, poll=False)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await _main(pilot)
            await pilot.press("t")
            await until(pilot, lambda: type(app.screen).__name__ == "AskScreen", "the traffic dialog")
            await pilot.press("enter")  # the current split, unchanged: valid
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", "the confirmation")
            await pilot.press("y")
            await until(pilot, lambda: "could not set the traffic" in screen_text(app), "the refusal shown")
            assert link.calls == [("traffic", "fraud-detector", {"blue": 80, "green": 20})]
            assert "no deployment 'green'" in screen_text(app)
            assert "fraud-detector" in screen_text(app)  # still the overview, still the data

    asyncio.run(run())


def test_cancel_asks_first_and_sends_only_on_yes() -> None:
    link = FakeLink()

    async def run() -> None:
        app = DashboardApp(link, poll=False)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await _main(pilot)
            await pilot.press("tab", "tab", "c")  # the jobs table, its first job (running)
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", "the confirmation")
            assert "Cancel batch job batchjob-7f3a" in screen_text(app) and "90 of 200 files" in screen_text(app)
            await pilot.press("n")
            await until(pilot, lambda: type(app.screen).__name__ == "MainScreen", "the overview again")
            assert link.calls == []
            await pilot.press("c", "y")
            await until(pilot, lambda: bool(link.calls), "the cancel call")
            assert link.calls == [("cancel", "batchjob-7f3a")]
            await pilot.press("down", "c")  # the completed job: nothing to cancel, nothing asked
            await until(pilot, lambda: "batchjob-1c02 has ended" in screen_text(app), "the note")
            assert type(app.screen).__name__ == "MainScreen" and len(link.calls) == 1

    asyncio.run(run())
