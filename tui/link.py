"""The dashboard's one way to the server: management calls through the runtime's client, decoded to status types.

Every call blocks (the client is urllib); the app runs them off the UI loop with `asyncio.to_thread`.
"""

from __future__ import annotations

import urllib.parse
from typing import Protocol

import msgspec

from runtime.client import Client, ModelyardError
from runtime.status import Status


class LinkError(Exception):
    """A call failed; the message says why in a user's words (the server's own message where it answered)."""


class Link(Protocol):
    """What the dashboard asks of a server (a fake in the snapshot tests)."""

    @property
    def url(self) -> str:
        """Where the server is (or was last seen); empty before one was found."""
        ...

    def status(self) -> Status:
        """The whole status snapshot."""
        ...

    def logs(self, endpoint: str, deployment: str, instance: int, lines: int) -> str:
        """The end of one instance's log."""
        ...

    def set_traffic(self, endpoint: str, traffic: dict[str, int]) -> None:
        """Replace an endpoint's live traffic split."""
        ...

    def scale(self, endpoint: str, deployment: str, instance_count: int) -> None:
        """Set a deployment's instance_count."""
        ...

    def restart_worker(self, endpoint: str, deployment: str, instance: int, process: int) -> int:
        """Kill one worker so the supervisor replaces it; return the pid that was killed."""
        ...

    def cancel_job(self, job: str) -> None:
        """Cancel a batch job."""
        ...


def _q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


class ServerLink:
    """A Link over HTTP: a fixed URL and admin token, or whatever server owns a state directory."""

    def __init__(self, *, state_dir: str | None = None, url: str | None = None, token: str = "") -> None:
        self._state_dir = state_dir
        self._fixed = None if url is None else (url.rstrip("/"), token)
        self._seen = "" if url is None else url.rstrip("/")

    @property
    def url(self) -> str:
        """The server's URL, or the last one seen; empty while the state directory never named one."""
        return self._seen

    def _client(self, timeout: float) -> Client:
        if self._fixed is not None:
            return Client.at(*self._fixed, timeout=timeout)
        # A new client for each call: serve publishes its address in the state directory, and a restarted serve
        # may listen on another port.
        client = Client.of_state_dir(self._state_dir, timeout)
        self._seen = client.base_url
        return client

    def _call(self, method: str, path: str, body: object = None, timeout: float = 60.0) -> object:
        try:
            return self._client(timeout).call(method, path, body)
        except ModelyardError as exc:  # Unavailable (no answer) and ApiError (the server's refusal) alike
            raise LinkError(exc.message) from None

    def status(self) -> Status:
        """GET /api/status, decoded."""
        raw = self._call("GET", "/api/status", timeout=5.0)
        try:
            return msgspec.convert(raw, Status)
        except msgspec.ValidationError as exc:
            raise LinkError(f"the server at {self.url} sent a status this dashboard cannot read: {exc}") from None

    def logs(self, endpoint: str, deployment: str, instance: int, lines: int) -> str:
        """GET .../logs: the end of one instance's log."""
        query = urllib.parse.urlencode({"lines": lines, "instance": instance})
        text = self._call("GET", f"/api/endpoints/{_q(endpoint)}/deployments/{_q(deployment)}/logs?{query}", timeout=5)
        return text if isinstance(text, str) else ""

    def set_traffic(self, endpoint: str, traffic: dict[str, int]) -> None:
        """PATCH the endpoint with the whole new split (deployments left out take 0 %, as az ml sends it)."""
        self._call("PATCH", f"/api/endpoints/{_q(endpoint)}", {"traffic": traffic})

    def scale(self, endpoint: str, deployment: str, instance_count: int) -> None:
        """PATCH the deployment with instance_count set, returning at once; the status shows the workers come."""
        body = {"set": [f"instance_count={instance_count}"], "wait": False}
        self._call("PATCH", f"/api/endpoints/{_q(endpoint)}/deployments/{_q(deployment)}", body)

    def restart_worker(self, endpoint: str, deployment: str, instance: int, process: int) -> int:
        """POST .../instances/{instance}/restart."""
        path = f"/api/endpoints/{_q(endpoint)}/deployments/{_q(deployment)}/instances/{instance}/restart"
        answer = self._call("POST", f"{path}?process={process}")
        return int(answer["killed_pid"]) if isinstance(answer, dict) else 0

    def cancel_job(self, job: str) -> None:
        """POST /api/jobs/{job}/cancel."""
        self._call("POST", f"/api/jobs/{_q(job)}/cancel")
