"""Modal dialogs: ask for a value (checked before it is accepted), and confirm exactly what will happen."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class ConfirmScreen(ModalScreen[bool]):
    """Says what will happen; dismissed with True only by Yes (or `y`)."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        """The text and the two buttons."""
        with Vertical(classes="dialog"):
            yield Static(self._text, classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        """No is the default: Enter on an unread dialog does nothing harmful."""
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Yes or No."""
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """The key bindings' answer."""
        self.dismiss(yes)


class AskScreen(ModalScreen[str | None]):
    """One line of input; `check` returns why a value is refused (None accepts it). Escape gives None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, value: str, check: Callable[[str], str | None]) -> None:
        super().__init__()
        self._prompt = prompt
        self._value = value
        self._check = check

    def compose(self) -> ComposeResult:
        """The prompt, the input and the line that says what is wrong."""
        with Vertical(classes="dialog"):
            yield Static(self._prompt, classes="dialog-text")
            yield Input(value=self._value, id="answer")
            yield Static("", id="problem", classes="dialog-problem")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Accept a valid value; say what is wrong with any other and keep the dialog open."""
        problem = self._check(event.value)
        if problem is not None:
            self.query_one("#problem", Static).update(problem)
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        """Leave without a value."""
        self.dismiss(None)
