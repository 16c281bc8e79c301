"""az's confirmation before a delete: ask on a terminal unless -y/--yes; without a terminal, refuse."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from runtime.errors import ModelyardError

PROMPT = "Are you sure you want to perform this operation? (y/n): "
NO_TTY = "Unable to prompt for confirmation as no tty available. Use --yes."
CANCELLED = "Operation cancelled."


def needs_confirmation(args: argparse.Namespace) -> bool:
    """Every delete (and environment prune) asks first, unless -y/--yes was given."""
    return getattr(args, "verb", None) in ("delete", "prune") and not getattr(args, "yes", False)


def confirm(args: argparse.Namespace, stdin: TextIO | None = None, prompt_to: TextIO | None = None) -> None:
    """Return if the operation may go ahead; raise ModelyardError (exit 1) if it is cancelled or cannot be asked."""
    if not needs_confirmation(args):
        return
    stdin = stdin or sys.stdin
    prompt_to = prompt_to or sys.stderr  # stderr: stdout carries results only, even for a prompt
    if not stdin.isatty():
        raise ModelyardError(NO_TTY)
    while True:
        prompt_to.write(PROMPT)
        prompt_to.flush()
        line = stdin.readline()
        if not line:  # end of input (Ctrl-D): nothing was agreed to
            prompt_to.write("\n")
            raise ModelyardError(CANCELLED)
        answer = line.strip().lower()
        if answer in ("y", "yes"):
            return
        if answer in ("n", "no"):
            raise ModelyardError(CANCELLED)
        # Anything else asks again, as az does.
