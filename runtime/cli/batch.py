"""The batch verbs: `batch-endpoint`, `batch-deployment`, `data` and `compute`, with az ml's flags.

The job verbs (invoke, list-jobs, `job ...`) are in runtime.cli.jobs.
"""

from __future__ import annotations

import argparse
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.cli import jobs, progress
from runtime.cli.args import endpoint_name, header_name, model_name, non_negative, not_blank, path_name, positive
from runtime.cli.calls import api, quoted
from runtime.cli.specfile import name_from_file, spec_body
from runtime.errors import SpecError

Handler = Callable[[argparse.Namespace], Any]


# --- batch endpoints ---------------------------------------------------------------------------------------


def _endpoint_create(args: argparse.Namespace) -> Any:
    body = spec_body(args, required=args.name is None)
    return api(args).call("POST", "/api/batch-endpoints", body)


def _endpoint_show(args: argparse.Namespace) -> Any:
    return api(args).call("GET", f"/api/batch-endpoints/{quoted(args.name)}")


def _endpoint_list(args: argparse.Namespace) -> Any:
    return api(args).call("GET", "/api/batch-endpoints")


def _endpoint_update(args: argparse.Namespace) -> Any:
    body = spec_body(args, required=False)
    body.pop("name", None)
    if args.name is not None:
        name = args.name
    else:
        name = name_from_file(body, "name", "-n/--name", "endpoint")
        _check_file(body, "endpoint", name=name)
    return api(args).call("PATCH", f"/api/batch-endpoints/{quoted(name)}", body)


def _check_file(body: dict[str, Any], kind: str, **flags: str | None) -> None:
    """A file the URL is named from is decoded as the server will first, so the wrong kind of file is refused for
    what it is (an online endpoint's given to `batch-endpoint update`), not as a missing endpoint."""
    from runtime.spec import load_batch_deployment, load_batch_endpoint

    if kind == "endpoint":
        load_batch_endpoint(body["yaml"], source=body["source"], overrides=body["set"], name=flags.get("name"))
    else:
        load_batch_deployment(body["yaml"], source=body["source"], overrides=body["set"], **flags)


def _endpoint_delete(args: argparse.Namespace) -> Any:
    path = f"/api/batch-endpoints/{quoted(args.name)}"
    if args.no_wait:
        return api(args).call("DELETE", f"{path}?wait=false")
    progress.call(api(args), "DELETE", path, what="batch-endpoint delete")
    return None


# --- batch deployments -------------------------------------------------------------------------------------


def _deployment_body(args: argparse.Namespace, required: bool) -> tuple[str, dict[str, Any]]:
    body = spec_body(args, required=required)
    if args.endpoint_name is not None:
        body["endpoint_name"] = args.endpoint_name
        endpoint = str(args.endpoint_name)
    else:
        endpoint = name_from_file(body, "endpoint_name", "-e/--endpoint-name")
    body.update(set_default=args.set_default, wait=not args.no_wait)
    return endpoint, body


def _deployment_create(args: argparse.Namespace) -> Any:
    endpoint, body = _deployment_body(args, required=True)
    if args.endpoint_name is None:
        _check_file(body, "deployment", name=args.name, endpoint_name=endpoint)
    return api(args).call("POST", f"/api/batch-endpoints/{quoted(endpoint)}/deployments", body)


def _deployment_update(args: argparse.Namespace) -> Any:
    endpoint, body = _deployment_body(args, required=False)
    name = args.name if args.name is not None else name_from_file(body, "name", "-n/--name")
    if args.name is None or args.endpoint_name is None:
        _check_file(body, "deployment", name=name, endpoint_name=endpoint)
    body.pop("name", None)
    return api(args).call("PATCH", f"/api/batch-endpoints/{quoted(endpoint)}/deployments/{quoted(name)}", body)


def _deployment_show(args: argparse.Namespace) -> Any:
    return api(args).call("GET", f"/api/batch-endpoints/{quoted(args.endpoint_name)}/deployments/{quoted(args.name)}")


def _deployment_list(args: argparse.Namespace) -> Any:
    return api(args).call("GET", f"/api/batch-endpoints/{quoted(args.endpoint_name)}/deployments")


def _deployment_delete(args: argparse.Namespace) -> Any:
    path = f"/api/batch-endpoints/{quoted(args.endpoint_name)}/deployments/{quoted(args.name)}"
    api(args).call("DELETE", f"{path}?wait=false" if args.no_wait else path)
    return None


# --- data and computes -------------------------------------------------------------------------------------


def _data_create(args: argparse.Namespace) -> Any:
    # Without a file the flags are the whole asset, as `az ml data create --name --path --type`.
    body = spec_body(args, required=args.name is None or args.path is None)
    if args.version is not None:
        body["version"] = args.version
    if args.path is not None:
        # The server resolves a relative path from its own folder: send it absolute, from where the command runs.
        body["path"] = args.path if "://" in args.path else str(Path(args.path).resolve())
    if args.type is not None:
        body["type"] = args.type
    if args.description is not None:
        body["description"] = args.description
    return api(args).call("POST", "/api/data", body)


def _data_show(args: argparse.Namespace) -> Any:
    if args.version is not None:
        return api(args).call("GET", f"/api/data/{quoted(args.name)}/versions/{quoted(args.version)}")
    label = args.label or "latest"  # az ml shows the latest version when neither is given
    return api(args).call("GET", f"/api/data/{quoted(args.name)}?{urllib.parse.urlencode({'label': label})}")


def _data_list(args: argparse.Namespace) -> Any:
    suffix = f"?{urllib.parse.urlencode({'name': args.name})}" if args.name is not None else ""
    return api(args).call("GET", f"/api/data{suffix}")


def _compute_create(args: argparse.Namespace) -> Any:
    body = spec_body(args, required=args.name is None or args.type is None)
    for key in ("type", "size", "min_instances", "max_instances"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    return api(args).call("POST", "/api/computes", body)


def _compute_show(args: argparse.Namespace) -> Any:
    return api(args).call("GET", f"/api/computes/{quoted(args.name)}")


def _compute_list(args: argparse.Namespace) -> Any:
    return api(args).call("GET", "/api/computes")


def _compute_delete(args: argparse.Namespace) -> Any:
    api(args).call("DELETE", f"/api/computes/{quoted(args.name)}")
    return None


def _compute_name(value: str) -> str:
    from runtime.spec.compute import COMPUTE_NAME_RULE, validate_compute_name

    try:
        validate_compute_name(not_blank(value))
    except SpecError:
        rule = f"{value!r} is not a valid compute name; names are {COMPUTE_NAME_RULE}"
        raise argparse.ArgumentTypeError(rule) from None
    return value


# --- parser ------------------------------------------------------------------------------------------------


def add_verbs(groups: Any, common: argparse.ArgumentParser) -> None:
    """Add the batch-endpoint, batch-deployment, data and compute groups to the CLI's parser."""

    def verbs(name: str, help: str) -> Any:
        return groups.add_parser(name, help=help).add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(sub: Any, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=help)
        p.set_defaults(handler=handler)
        return p

    def spec_args(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("-f", "--file", type=not_blank, required=required, help="YAML file")
        p.add_argument("--set", action="extend", nargs="+", metavar="PATH=VALUE", help="override a YAML value")

    def no_wait(p: argparse.ArgumentParser) -> None:
        p.add_argument("--no-wait", action="store_true", help="return at once")

    def yes(p: argparse.ArgumentParser) -> None:
        p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")

    ep = verbs("batch-endpoint", "manage batch endpoints")
    p = verb(ep, "create", _endpoint_create, "create a batch endpoint from YAML, or from -n alone")
    spec_args(p, False)
    p.add_argument("-n", "--name", type=endpoint_name)
    no_wait(p)
    p = verb(ep, "show", _endpoint_show, "show a batch endpoint")
    p.add_argument("-n", "--name", type=path_name, required=True)
    verb(ep, "list", _endpoint_list, "list batch endpoints")
    p = verb(ep, "update", _endpoint_update, "update a batch endpoint (--set defaults.deployment_name=D)")
    p.add_argument("-n", "--name", type=path_name, help="default: name in the file")
    spec_args(p, False)
    no_wait(p)
    p = verb(ep, "delete", _endpoint_delete, "delete a batch endpoint and its deployments")
    p.add_argument("-n", "--name", type=path_name, required=True)
    yes(p)
    no_wait(p)

    dep = verbs("batch-deployment", "manage batch deployments")
    p = verb(dep, "create", _deployment_create, "create a batch deployment from YAML (its code and model are copied)")
    spec_args(p, True)
    p.add_argument("-n", "--name", type=header_name)
    p.add_argument("-e", "--endpoint-name", type=path_name)
    p.add_argument("--set-default", action="store_true", help="make it the endpoint's default deployment")
    no_wait(p)
    p = verb(dep, "update", _deployment_update, "update a batch deployment")
    spec_args(p, False)
    p.add_argument("-n", "--name", type=path_name, help="default: name in the file")
    p.add_argument("-e", "--endpoint-name", type=path_name, help="default: endpoint_name in the file")
    p.add_argument("--set-default", action="store_true", help="make it the endpoint's default deployment")
    no_wait(p)
    p = verb(dep, "show", _deployment_show, "show a batch deployment")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p.add_argument("-e", "--endpoint-name", type=path_name, required=True)
    p = verb(dep, "list", _deployment_list, "list a batch endpoint's deployments")
    p.add_argument("-e", "--endpoint-name", type=path_name, required=True)
    p = verb(dep, "delete", _deployment_delete, "delete a batch deployment (not the endpoint's default)")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p.add_argument("-e", "--endpoint-name", type=path_name, required=True)
    yes(p)
    no_wait(p)

    data = verbs("data", "manage data assets (local files and folders, recorded in place)")
    p = verb(data, "create", _data_create, "register a data asset version from YAML, or from --name and --path")
    spec_args(p, False)
    p.add_argument("-n", "--name", type=model_name)
    p.add_argument("-v", "--version", type=model_name, help="default: one more than the latest version")
    p.add_argument("-p", "--path", type=not_blank, help="the local file or folder")
    p.add_argument("-t", "--type", choices=["uri_folder", "uri_file"], type=str.lower, help="default: uri_folder")
    p.add_argument("-d", "--description")
    p = verb(data, "show", _data_show, "show one data asset version (default: the latest)")
    p.add_argument("-n", "--name", type=model_name, required=True)
    which = p.add_mutually_exclusive_group()
    which.add_argument("-v", "--version", type=model_name)
    which.add_argument("-l", "--label", choices=["latest"], type=str.lower, help="latest: the newest version")
    p = verb(data, "list", _data_list, "list data assets (the latest version of each), or every version of -n")
    p.add_argument("-n", "--name", type=model_name)

    compute = verbs("compute", "manage compute clusters that batch deployments run on")
    p = verb(compute, "create", _compute_create, "create a compute cluster from YAML, or from --name and --type")
    spec_args(p, False)
    p.add_argument("-n", "--name", type=_compute_name)
    p.add_argument("-t", "--type", type=str.lower, help="amlcompute")
    p.add_argument("--size", type=not_blank, help="VM size, recorded (default Standard_DS3_v2)")
    p.add_argument("--min-instances", type=non_negative, help="default 0")
    p.add_argument("--max-instances", type=positive, help="most instances a job may use (default 1)")
    p = verb(compute, "show", _compute_show, "show a compute cluster")
    p.add_argument("-n", "--name", type=path_name, required=True)
    verb(compute, "list", _compute_list, "list compute clusters")
    p = verb(compute, "delete", _compute_delete, "delete a compute cluster no batch deployment uses")
    p.add_argument("-n", "--name", type=path_name, required=True)
    yes(p)

    jobs.add_verbs(ep, dep, groups, common)
