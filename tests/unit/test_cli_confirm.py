"""The delete confirmation on a real pseudo-terminal: az's question, its answers, and no terminal at all."""

import argparse
import io
import os
from collections.abc import Iterator
from typing import TextIO

import pytest

from runtime.cli.confirm import CANCELLED, NO_TTY, PROMPT, confirm
from runtime.errors import ModelyardError


@pytest.fixture
def tty() -> Iterator[tuple[int, TextIO]]:
    """The master side to type on, and the slave side as the command's stdin."""
    master, slave = os.openpty()
    with os.fdopen(slave, "r") as stdin:
        try:
            yield master, stdin
        finally:
            os.close(master)


def _delete(yes: bool = False) -> argparse.Namespace:
    return argparse.Namespace(group="online-endpoint", verb="delete", yes=yes)


@pytest.mark.parametrize("answer", ["y", "Y", "yes", " YES "])
def test_yes_goes_ahead(tty: tuple[int, TextIO], answer: str) -> None:
    master, stdin = tty
    os.write(master, f"{answer}\n".encode())
    prompts = io.StringIO()
    confirm(_delete(), stdin=stdin, prompt_to=prompts)
    assert prompts.getvalue() == PROMPT


@pytest.mark.parametrize("typed", ["n\n", "No\n", "\x04"])  # \x04: Ctrl-D, the end of input
def test_no_or_end_of_input_cancels(tty: tuple[int, TextIO], typed: str) -> None:
    master, stdin = tty
    os.write(master, typed.encode())
    with pytest.raises(ModelyardError) as info:
        confirm(_delete(), stdin=stdin, prompt_to=io.StringIO())
    assert info.value.message == CANCELLED == "Operation cancelled."


def test_other_answers_ask_again(tty: tuple[int, TextIO]) -> None:
    master, stdin = tty
    os.write(master, b"maybe\n\ny\n")
    prompts = io.StringIO()
    confirm(_delete(), stdin=stdin, prompt_to=prompts)
    assert prompts.getvalue() == PROMPT * 3


def test_without_a_terminal_it_refuses_with_az_hint() -> None:
    with pytest.raises(ModelyardError) as info:
        confirm(_delete(), stdin=io.StringIO("y\n"), prompt_to=io.StringIO())
    assert info.value.message == NO_TTY == "Unable to prompt for confirmation as no tty available. Use --yes."


def test_yes_flag_and_other_verbs_never_ask() -> None:
    untouched = io.StringIO("")
    confirm(_delete(yes=True), stdin=untouched, prompt_to=untouched)
    confirm(argparse.Namespace(verb="show"), stdin=untouched, prompt_to=untouched)
    assert untouched.getvalue() == ""
