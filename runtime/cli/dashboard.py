"""`modelyard dashboard`: the Textual dashboard (the `tui` extra), started on this state directory's server."""

from __future__ import annotations

import argparse
from typing import Any

from runtime.cli.args import float_in
from runtime.errors import ModelyardError
from runtime.statedir import StateDir

INSTALL = "pip install 'modelyard[tui]'"


def add_command(groups: Any, common: argparse.ArgumentParser) -> None:
    """The `dashboard` command."""
    p = groups.add_parser(
        "dashboard",
        parents=[common],
        help="a live terminal dashboard: endpoints, traffic, workers, jobs, logs; change traffic, scale, restart",
        description="Open the dashboard on the server of the state directory, or on --url with --token. "
        f"Needs the tui extra ({INSTALL}).",
    )
    p.add_argument("--url", help="the server's URL (default: the one the state directory's server published)")
    p.add_argument("--token", help="the admin token for --url (default: the state directory's)")
    p.add_argument(
        "--interval",
        type=float_in(0.2, 3600, "seconds from 0.2 to 3600"),
        default=2.0,
        help="seconds between refreshes (default 2)",
    )
    p.set_defaults(handler=dashboard_command)


def dashboard_command(args: argparse.Namespace) -> int:
    """Run the app until the user quits."""
    if args.token is not None and args.url is None:
        raise ModelyardError("--token goes with --url; without --url the state directory's token is used")
    token = args.token
    if args.url is not None and token is None:
        state = StateDir(args.state_dir)
        try:
            token = state.admin_token()
        except FileNotFoundError:
            raise ModelyardError(f"--url needs --token: there is no admin token in {state.root}") from None
    try:
        from tui.app import run_dashboard
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in ("textual", "tui"):
            raise
        raise ModelyardError(f"the dashboard needs Textual, which is not installed: {INSTALL}") from None
    run_dashboard(state_dir=args.state_dir, url=args.url, token=token or "", interval=args.interval)
    return 0
