"""Feedback while the CLI waits, as az's `- Running ..`: on a terminal only, on stderr, gone once the wait ends.

A deployment create is sent with `wait: false` and then polled (state and the last line of its log) until it is
Succeeded or Failed; other waiting calls run in a thread while the display polls beside them. Either way the
result is the one the plain call returns, so what reaches stdout is the same with and without a terminal.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from runtime.cli.calls import quoted
from runtime.client import Client
from runtime.errors import ModelyardError

T = TypeVar("T")
DONE = ("Succeeded", "Failed")
POLL_S = 0.5


class Line(Protocol):
    """Where the one progress line goes (a rich Status on a terminal)."""

    def update(self, text: str) -> None: ...


Sample = Callable[[], tuple[str | None, str]]  #: the deployment's state (None: unknown) and its last log line


class Progress:
    """Shows `Running .. <what>: <state> (<elapsed>)  <log line>`; the clock and the sleep are injected."""

    def __init__(
        self,
        line: Line,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        interval: float = POLL_S,
    ) -> None:
        self._line, self._clock, self._sleep, self._interval = line, clock, sleep, interval
        self._start = clock()

    def show(self, what: str, state: str | None = None, log: str = "") -> None:
        """Put the current state on the line."""
        elapsed = f"{self._clock() - self._start:.0f} s"
        status = f"{state} ({elapsed})" if state else f"({elapsed})"
        self._line.update(f"Running .. {what}: {status}" + (f"  {log}" if log else ""))

    def until_done(self, what: str, fetch: Callable[[], Any], last_log: Callable[[], str]) -> Any:
        """Poll `fetch` until its provisioning_state is Succeeded or Failed; return that last answer."""
        while True:
            shown = fetch()
            state = shown.get("provisioning_state") if isinstance(shown, dict) else None
            if state in DONE:
                return shown
            self.show(what, state, last_log())
            self._sleep(self._interval)

    def during(self, what: str, work: Callable[[], T], sample: Sample | None = None) -> T:
        """Run `work` in a thread and show progress until it returns; its result, or its exception re-raised."""
        outcome: list[Any] = []
        failure: list[BaseException] = []
        finished = threading.Event()

        def run() -> None:
            try:
                outcome.append(work())
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)
            finally:
                finished.set()

        threading.Thread(target=run, name="modelyard-call", daemon=True).start()
        self.show(what)
        while not finished.wait(self._interval):
            self.show(what, *(sample() if sample else (None, "")))
        if failure:
            raise failure[0]
        return outcome[0]  # type: ignore[no-any-return]


def interactive() -> bool:
    """Progress is for people: only when stderr is a terminal, so scripts and pipes see nothing extra."""
    return sys.stderr.isatty()


@contextmanager
def terminal() -> Iterator[Progress]:
    """A Progress drawing on stderr with a rich spinner, erased when the block ends."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=sys.stderr, stderr=True, highlight=False)

    class _Status:
        def __init__(self) -> None:
            self.status = console.status("Running ..")

        def update(self, text: str) -> None:
            self.status.update(Text(text, no_wrap=True, overflow="ellipsis"))

    line = _Status()
    with line.status:
        yield Progress(line)


def _deployment_sample(client: Client, path: str) -> Sample:
    """State and last log line of the deployment at `path`; what cannot be read yet shows as unknown."""

    def sample() -> tuple[str | None, str]:
        try:
            shown = client.call("GET", path)
            state = shown.get("provisioning_state") if isinstance(shown, dict) else None
        except ModelyardError:
            state = None
        return state, _last_log(client, path)

    return sample


def _last_log(client: Client, path: str) -> str:
    try:
        text = client.call("GET", f"{path}/logs?lines=1")
    except ModelyardError:  # no log yet: the environment is being built, or the first instance has not started
        return _building(client, path)
    lines = str(text or "").strip().splitlines()
    return lines[-1].strip() if lines else ""


def _building(client: Client, path: str) -> str:
    """The environment build's progress (which package the installer is at), while the deployment waits on it."""
    try:
        shown = client.call("GET", path)
    except ModelyardError:
        return ""
    build = shown.get("environment_build") if isinstance(shown, dict) else None
    if isinstance(build, dict) and build.get("state") == "Building":
        return f"building environment {build.get('hash', '')}: {build.get('progress', '')}"
    return ""


def create_deployment(client: Client, endpoint: str, body: dict[str, Any]) -> Any:
    """POST a deployment; on a terminal, without waiting, then poll it until it is Succeeded or Failed."""
    path = f"/api/endpoints/{quoted(endpoint)}/deployments"
    if not body.get("wait", True) or not interactive():
        return client.call("POST", path, body)
    with terminal() as progress:
        first = progress.during("online-deployment create", lambda: client.call("POST", path, {**body, "wait": False}))
        name = first["name"]
        where = f"{path}/{quoted(name)}"
        return progress.until_done(
            f"deployment {name}", lambda: client.call("GET", where), lambda: _last_log(client, where)
        )


def call(client: Client, method: str, path: str, body: Any = None, *, what: str, deployment: str | None = None) -> Any:
    """A management call that may take a while; on a terminal it shows progress (and `deployment`'s state)."""
    if not interactive() or (isinstance(body, dict) and body.get("wait") is False):
        return client.call(method, path, body)
    sample = _deployment_sample(client, deployment) if deployment else None
    with terminal() as progress:
        return progress.during(what, lambda: client.call(method, path, body), sample)
