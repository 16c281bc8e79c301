"""What every command module uses to reach the server: a client for the state directory, and path quoting."""

from __future__ import annotations

import argparse
import urllib.parse

from runtime.client import Client
from runtime.statedir import StateDir


def api(args: argparse.Namespace) -> Client:
    """The management API client of the state directory the command names (--state-dir, else the default)."""
    return Client(StateDir(args.state_dir))


def quoted(name: str) -> str:
    """A name as one URL path segment."""
    return urllib.parse.quote(name, safe="")
