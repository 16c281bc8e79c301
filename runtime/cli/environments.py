"""The `environment` verbs: create (register and build), list, show, delete, prune and export.

A build can take a while the first time: on a terminal, create shows which package the installer is at and how
long it has been running, as deployment creates show their state.
"""

from __future__ import annotations

import argparse
import os
import urllib.parse
from collections.abc import Callable
from typing import Any

from runtime.cli import progress
from runtime.cli.args import model_name, not_blank
from runtime.cli.calls import api, quoted
from runtime.cli.specfile import spec_body

Handler = Callable[[argparse.Namespace], Any]


def _create(args: argparse.Namespace) -> Any:
    body = spec_body(args, required=True)
    if args.version is not None:
        body["version"] = args.version
    body["relax_pins"] = args.relax_pins
    client = api(args)
    if not progress.interactive():
        return client.call("POST", "/api/environments", body)

    def sample() -> tuple[str | None, str]:
        builds = client.call("GET", "/api/environment-builds")
        if isinstance(builds, list) and builds:
            return "Building", str(builds[-1].get("line", ""))
        return None, ""

    with progress.terminal() as shown:
        return shown.during("environment create", lambda: client.call("POST", "/api/environments", body), sample)


def _list(args: argparse.Namespace) -> Any:
    return api(args).call("GET", "/api/environments")


def _show(args: argparse.Namespace) -> Any:
    if args.version is not None:
        return api(args).call("GET", f"/api/environments/{quoted(args.name)}/versions/{quoted(args.version)}")
    query = urllib.parse.urlencode({"label": args.label} if args.label else {})
    return api(args).call("GET", f"/api/environments/{quoted(args.name)}" + (f"?{query}" if query else ""))


def _delete(args: argparse.Namespace) -> Any:
    api(args).call("DELETE", f"/api/environments/{quoted(args.name)}/versions/{quoted(args.version)}")
    return None


def _prune(args: argparse.Namespace) -> Any:
    return api(args).call("POST", "/api/environments-prune")


def _export(args: argparse.Namespace) -> Any:
    query = {"path": os.path.abspath(args.destination)} | ({"version": args.version} if args.version else {})
    path = f"/api/environments/{quoted(args.name)}/export?{urllib.parse.urlencode(query)}"
    return progress.call(api(args), "POST", path, what="environment export")


def add_verbs(groups: Any, common: argparse.ArgumentParser) -> None:
    """Add the environment group to the CLI's parser."""
    sub = groups.add_parser("environment", help="manage environments: conda files built into cached virtualenvs")
    verbs = sub.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = verbs.add_parser(name, parents=[common], help=help)
        p.set_defaults(handler=handler)
        return p

    p = verb("create", _create, "register an environment from YAML and build it (or find it built)")
    p.add_argument("-f", "--file", type=not_blank, required=True, help="environment YAML (conda_file, image, ...)")
    p.add_argument("--set", action="extend", nargs="+", metavar="PATH=VALUE", help="override a YAML value")
    p.add_argument("-n", "--name", type=model_name)
    p.add_argument("-v", "--version", type=model_name)
    p.add_argument(
        "--relax-pins",
        action="store_true",
        help="when a pinned version has no wheel for this Python, install the nearest version that has one",
    )
    verb("list", _list, "list registered environments and the anonymous ones deployments built")
    p = verb("show", _show, "show one environment version (-v, or -l latest), or a build by its hash (-n HASH)")
    p.add_argument("-n", "--name", type=not_blank, required=True)
    which = p.add_mutually_exclusive_group()
    which.add_argument("-v", "--version", type=model_name)
    which.add_argument("-l", "--label", choices=["latest"], type=str.lower)
    p = verb("delete", _delete, "delete a registered version (builds stay until prune)")
    p.add_argument("-n", "--name", type=model_name, required=True)
    p.add_argument("-v", "--version", type=model_name, required=True)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p = verb("prune", _prune, "remove every built environment that no deployment or registered environment uses")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    # export's -o is the folder the wheels go to, so it takes only --state-dir from the common options.
    state_only = argparse.ArgumentParser(add_help=False)
    state_only.add_argument("--state-dir", default=argparse.SUPPRESS, help="state directory")
    p = verbs.add_parser(
        "export",
        parents=[state_only],
        help="write every wheel an environment needs into a folder, for serve --find-links",
    )
    p.set_defaults(handler=_export)
    p.add_argument("-n", "--name", type=not_blank, required=True, help="a registered environment, or a build's hash")
    p.add_argument("-v", "--version", type=model_name)
    p.add_argument(
        "-o", "--output", dest="destination", type=not_blank, required=True, help="the folder for the wheels"
    )
