"""The messages the dashboard's pollers and actions post up to the app; newer status replaces older in the queue."""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message

from runtime.status import Status
from tui.link import Link


class StatusArrived(Message):
    """A fresh status snapshot."""

    def __init__(self, status: Status) -> None:
        super().__init__()
        self.status = status

    def can_replace(self, message: Message) -> bool:
        """Only the newest snapshot matters."""
        return isinstance(message, StatusArrived | ServerLost)


class ServerLost(Message):
    """The status poll failed: the server is gone, or refuses."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__()
        self.url = url
        self.reason = reason

    def can_replace(self, message: Message) -> bool:
        """Only the newest outcome matters."""
        return isinstance(message, ServerLost)


class ActionDone(Message):
    """An action finished; `error` is the server's refusal, or None; `detail` what the server answered."""

    def __init__(self, what: str, error: str | None, detail: str | None = None) -> None:
        super().__init__()
        self.what = what
        self.error = error
        self.detail = detail


class ActionRequested(Message):
    """A confirmed action for the app to run: `run` makes the call (and may say what came of it), `what` says it."""

    def __init__(self, what: str, run: Callable[[Link], str | None]) -> None:
        super().__init__()
        self.what = what
        self.run = run


class OpenDeployment(Message):
    """Show one deployment's screen."""

    def __init__(self, endpoint: str, deployment: str) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.deployment = deployment
