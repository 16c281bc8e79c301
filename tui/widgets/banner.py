"""The banner over every screen: shown while the server does not answer, or after an action's outcome."""

from __future__ import annotations

from textual.widgets import Static


class Banner(Static):
    """One line of news; hidden while there is none."""

    DEFAULT_CSS = """
    Banner { display: none; height: auto; padding: 0 1; }
    Banner.-shown { display: block; }
    Banner.-error { background: $error; color: $text; }
    Banner.-note { background: $primary-background; }
    """

    def show(self, text: str | None, *, error: bool = True) -> None:
        """Show `text` (None hides the banner)."""
        self.set_class(text is not None, "-shown")
        self.set_class(error, "-error")
        self.set_class(not error, "-note")
        self.update(text or "")
