"""Recorded status snapshots and a fake server link, for the screen tests (no server, nothing that changes)."""

from __future__ import annotations

from pathlib import Path

import msgspec

from runtime.status import Status
from tui.link import LinkError

HERE = Path(__file__).parent


def recorded() -> list[Status]:
    """Five consecutive snapshots of a busy server: an A/B endpoint with mirror, a small one, a batch job."""
    return msgspec.json.decode((HERE / "fixtures" / "status-history.json").read_bytes(), type=list[Status])


class FakeLink:
    """A server that answers with the last recorded snapshot and a fixed log, and records what it was asked."""

    url = "http://127.0.0.1:5001"

    def __init__(self, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.calls: list[tuple[object, ...]] = []

    def status(self) -> Status:
        return recorded()[-1]

    def logs(self, endpoint: str, deployment: str, instance: int, lines: int) -> str:
        return f"init() of {deployment} instance {instance} done\nscored 20 rows in 12.5 ms\n"

    def _act(self, *call: object) -> None:
        self.calls.append(call)
        if self.refuse is not None:
            raise LinkError(self.refuse)

    def set_traffic(self, endpoint: str, traffic: dict[str, int]) -> None:
        self._act("traffic", endpoint, traffic)

    def scale(self, endpoint: str, deployment: str, instance_count: int) -> None:
        self._act("scale", endpoint, deployment, instance_count)

    def restart_worker(self, endpoint: str, deployment: str, instance: int, process: int) -> int:
        self._act("restart", endpoint, deployment, instance, process)
        return 41021

    def cancel_job(self, job: str) -> None:
        self._act("cancel", job)
