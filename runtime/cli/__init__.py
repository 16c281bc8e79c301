"""`modelyard`: az-ml style verbs over the management API, plus `serve` and `stop`.

Every command finds the server and its admin token in the state directory (`--state-dir`, `$MODELYARD_HOME`, or
~/.modelyard), exits 0 on success and non-zero with a one-line reason on failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from runtime.cli import batch, dashboard, environments, mirror, monitor, output, progress
from runtime.cli import status as status_cli
from runtime.cli.args import (
    endpoint_name,
    header_name,
    model_name,
    non_negative,
    not_blank,
    path_name,
    positive,
)
from runtime.cli.calls import api, quoted
from runtime.cli.confirm import confirm
from runtime.cli.server import add_server_commands
from runtime.cli.specfile import check_file, model_path, name_from_file, spec_body
from runtime.errors import ModelyardError, SpecError

Handler = Callable[[argparse.Namespace], Any]


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: the reason and where to get help, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `modelyard` command."""
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # also after argparse's --help and errors, which exit through SystemExit
    except BrokenPipeError:  # the reader of stdout went away (`| head`)
        return output.closed_pipe()


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        confirm(args)
        result = args.handler(args)
        if isinstance(result, int):
            return result
        output.emit(result, args.output, args.query)
    except BrokenPipeError:
        raise  # not the command's failure: main() ends quietly
    except ModelyardError as exc:
        print(f"modelyard: error: {exc.message}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        # A safety net: each known cause is caught where it happens, but the promise is one line, never a traceback.
        print(f"modelyard: error: {_describe(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _describe(exc: OSError | ValueError) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


# --- commands ----------------------------------------------------------------------------------------------


def _endpoint_create(args: argparse.Namespace) -> Any:
    # A bad file is reported whether or not a server runs; -n alone makes a key-auth endpoint, as az ml does.
    body = spec_body(args, required=args.name is None)
    return progress.call(api(args), "POST", "/api/endpoints", body, what="online-endpoint create")


def _endpoint_show(args: argparse.Namespace) -> Any:
    return api(args).call("GET", f"/api/endpoints/{quoted(args.name)}")


def _endpoint_list(args: argparse.Namespace) -> Any:
    return api(args).call("GET", "/api/endpoints")


def _endpoint_update(args: argparse.Namespace) -> Any:
    body = spec_body(args, required=False)
    if args.traffic is not None:
        body["traffic"] = args.traffic
    if args.mirror_traffic is not None:
        body["mirror_traffic"] = args.mirror_traffic
    # As az ml: -n wins, else the file's name (after --set name=), as for online-deployment update.
    if args.name is not None:
        name = args.name
    else:
        name = name_from_file(body, "name", "-n/--name", "endpoint")
        check_file(body, "endpoint", name=name)
    return progress.call(api(args), "PATCH", f"/api/endpoints/{quoted(name)}", body, what="online-endpoint update")


def _endpoint_delete(args: argparse.Namespace) -> Any:
    _waiting_call(args, "DELETE", f"/api/endpoints/{quoted(args.name)}", what="online-endpoint delete")
    return None


def _waiting_call(args: argparse.Namespace, method: str, path: str, *, what: str) -> Any:
    """A delete that waits (with progress on a terminal), or with --no-wait one that returns at once."""
    if args.no_wait:
        return api(args).call(method, f"{path}?wait=false")
    return progress.call(api(args), method, path, what=what)


def _endpoint_credentials(args: argparse.Namespace) -> Any:
    return api(args).call("GET", f"/api/endpoints/{quoted(args.name)}/keys")


def _endpoint_regenerate(args: argparse.Namespace) -> Any:
    body = {"keyType": args.key_type.capitalize(), "keyValue": args.key_value}
    api(args).call("POST", f"/api/endpoints/{quoted(args.name)}/regenerate-keys", body)
    return None


def _endpoint_invoke(args: argparse.Namespace) -> int:
    client = api(args)
    try:
        body = Path(args.request_file).read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read {args.request_file}: {exc.strerror}") from None
    creds = client.call("GET", f"/api/endpoints/{quoted(args.name)}/keys")
    secret = creds.get("primaryKey") or creds["accessToken"]  # key endpoints, or aml_token endpoints
    status, headers, answer = client.score(args.name, body, secret, args.deployment_name)
    text = answer.decode(errors="replace")
    if status == 404:  # Triton endpoints have no /score: say how they are called
        _refuse_oip(client.call("GET", f"/api/endpoints/{quoted(args.name)}"))
    if status != 200:
        original = headers.get("ms-azureml-model-error-statuscode")
        extra = f" (the scoring script answered {original})" if original else ""
        print(f"modelyard: error: {status}{extra}: {_front_end_message(text, original)}", file=sys.stderr)
        return 1
    # az ml prints the response body as a JSON string.
    print(json.dumps(text))
    return 0


def _front_end_message(text: str, original: str | None) -> str:
    """The message of the front end's own `{"message": ...}` answers; a scoring script's body is shown as it is."""
    if original is not None:
        return text
    try:
        message = json.loads(text)["message"]
    except (ValueError, KeyError, TypeError):
        return text
    return message if isinstance(message, str) else text


def _refuse_oip(endpoint: dict[str, Any]) -> None:
    """Triton endpoints have no /score: say how they are called instead of posting to a 404."""
    uri = str(endpoint.get("scoring_uri", ""))
    if not uri or uri.endswith("/score"):
        return
    raise ModelyardError(
        f"endpoint {endpoint.get('name')!r} serves Triton models over the Open Inference Protocol v2, which has no "
        f"/score: POST to {uri}/v2/models/<model>/infer with the key as a Bearer token, or use tritonclient: "
        f'tritonclient.http.InferenceServerClient(url="{uri.partition("://")[2]}") with '
        'headers={"Authorization": "Bearer <key>"} on each call'
    )


def _deployment_body(args: argparse.Namespace, required: bool) -> dict[str, Any]:
    body = spec_body(args, required=required)
    if args.endpoint_name is not None:
        body["endpoint_name"] = args.endpoint_name
    return body


def _deployment_endpoint(args: argparse.Namespace, body: dict[str, Any]) -> str:
    if args.endpoint_name is not None:
        return str(args.endpoint_name)
    return name_from_file(body, "endpoint_name", "-e/--endpoint-name")


def _deployment_create(args: argparse.Namespace) -> Any:
    body = _deployment_body(args, required=True)
    # An az ml local endpoint sends every request to its one deployment: --local scripts invoke it without --traffic.
    body.update(all_traffic=args.all_traffic or args.local, placement=args.placement, wait=not args.no_wait)
    endpoint = _deployment_endpoint(args, body)
    if args.endpoint_name is None:
        check_file(body, "deployment", name=args.name, endpoint_name=endpoint)
    result = progress.create_deployment(api(args), endpoint, body)
    return _unless_failed(result, "deployment")


def _deployment_update(args: argparse.Namespace) -> Any:
    body = _deployment_body(args, required=False)
    endpoint = _deployment_endpoint(args, body)
    name = args.name if args.name is not None else name_from_file(body, "name", "-n/--name")
    if args.name is None or args.endpoint_name is None:
        check_file(body, "deployment", name=name, endpoint_name=endpoint)
    body["wait"] = not args.no_wait
    path = f"/api/endpoints/{quoted(endpoint)}/deployments/{quoted(name)}"
    result = progress.call(api(args), "PATCH", path, body, what="online-deployment update", deployment=path)
    if result.get("rolled") is False:
        print(f"modelyard: note: {result.get('note', 'nothing changed')}", file=sys.stderr)
    return _unless_failed(result, "update of deployment")


def _unless_failed(result: Any, what: str) -> Any:
    """The deployment as the server shows it; a one-line error (exit 1) when it ended Failed."""
    if result.get("provisioning_state") == "Failed":
        raise ModelyardError(f"{what} {result['name']} failed: {result.get('error', 'see get-logs')}")
    return result


def _deployment_show(args: argparse.Namespace) -> Any:
    return api(args).call("GET", f"/api/endpoints/{quoted(args.endpoint_name)}/deployments/{quoted(args.name)}")


def _deployment_list(args: argparse.Namespace) -> Any:
    return api(args).call("GET", f"/api/endpoints/{quoted(args.endpoint_name)}/deployments")


def _deployment_delete(args: argparse.Namespace) -> Any:
    path = f"/api/endpoints/{quoted(args.endpoint_name)}/deployments/{quoted(args.name)}"
    _waiting_call(args, "DELETE", path, what="online-deployment delete")
    return None


def _deployment_logs(args: argparse.Namespace) -> int:
    path = f"/api/endpoints/{quoted(args.endpoint_name)}/deployments/{quoted(args.name)}/logs"
    query = urllib.parse.urlencode({"lines": args.lines, "instance": args.instance, "container": args.container})
    text = api(args).call("GET", f"{path}?{query}")
    sys.stdout.write(text or "")
    return 0


def _model_create(args: argparse.Namespace) -> Any:
    # Without a file the flags are the whole model, as `az ml model create --name --version --path --type`.
    body = spec_body(args, required=args.name is None or args.path is None)
    if args.version is not None:
        body["version"] = str(args.version)
    if args.path is not None:
        body["path"] = str(model_path(args.path))
    if args.type is not None:
        body["type"] = args.type
    return api(args).call("POST", "/api/models", body)


def _model_list(args: argparse.Namespace) -> Any:
    query = {"name": args.name} if args.name is not None else {}
    if args.include_archived:
        query["include_archived"] = "true"
    suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
    return api(args).call("GET", f"/api/models{suffix}")


def _model_show(args: argparse.Namespace) -> Any:
    if args.version is not None:
        return api(args).call("GET", f"/api/models/{quoted(args.name)}/versions/{quoted(args.version)}")
    label = args.label or "latest"  # az ml shows the latest version when neither is given
    return api(args).call("GET", f"/api/models/{quoted(args.name)}?{urllib.parse.urlencode({'label': label})}")


def _model_archive(args: argparse.Namespace) -> Any:
    return api(args).call("POST", f"/api/models/{quoted(args.name)}/versions/{quoted(args.version)}/archive")


def _model_delete(args: argparse.Namespace) -> Any:
    api(args).call("DELETE", f"/api/models/{quoted(args.name)}/versions/{quoted(args.version)}")
    return None


# --- parser ------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    # The options work before and after the verb. Subcommands get their own copies with SUPPRESS defaults (parents
    # share action objects, so the top level cannot reuse them) so an unset copy never overwrites a value given
    # before the verb.
    parser = _Parser(prog="modelyard", description=__doc__)
    parser.add_argument("--state-dir", help="state directory (default: $MODELYARD_HOME or ~/.modelyard)")
    output.add_options(parser, top=True)
    common = _Parser(add_help=False)
    common.add_argument("--state-dir", default=argparse.SUPPRESS, help="state directory")
    output.add_options(common, top=False)
    groups = parser.add_subparsers(dest="group", metavar="COMMAND")

    add_server_commands(groups, common)
    status_cli.add_commands(groups, common)
    dashboard.add_command(groups, common)

    def verbs(name: str, help: str) -> argparse._SubParsersAction[_Parser]:
        group = groups.add_parser(name, help=help)
        return group.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(sub: Any, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=help)
        p.set_defaults(handler=handler)
        return p

    def no_wait(p: argparse.ArgumentParser) -> None:
        p.add_argument("--no-wait", action="store_true", help="return at once; `show` follows the state")

    def spec_args(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("-f", "--file", type=not_blank, required=required, help="YAML file")
        p.add_argument("--set", action="extend", nargs="+", metavar="PATH=VALUE", help="override a YAML value")

    ep = verbs("online-endpoint", "manage online endpoints")
    p = verb(ep, "create", _endpoint_create, "create an endpoint from YAML, or a key-auth one from -n alone")
    spec_args(p, False)
    p.add_argument("-n", "--name", type=endpoint_name)
    no_wait(p)
    verb(ep, "show", _endpoint_show, "show an endpoint").add_argument("-n", "--name", type=path_name, required=True)
    verb(ep, "list", _endpoint_list, "list endpoints")
    p = verb(ep, "update", _endpoint_update, "update an endpoint, its traffic or mirror traffic")
    p.add_argument("-n", "--name", type=path_name, help="default: name in the file")
    spec_args(p, False)
    p.add_argument("--traffic", help='e.g. "blue=90 green=10"; replaces the whole map (others take 0)')
    p.add_argument("--mirror-traffic", help='e.g. "green=10"; replaces the whole map')
    no_wait(p)
    p = verb(ep, "delete", _endpoint_delete, "delete an endpoint and its deployments")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    no_wait(p)
    p = verb(ep, "invoke", _endpoint_invoke, "send a request file to the endpoint's /score")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p.add_argument("-r", "--request-file", type=not_blank, required=True)
    p.add_argument(
        "-d", "--deployment-name", type=header_name, help="target this deployment (azureml-model-deployment header)"
    )
    p = verb(ep, "get-credentials", _endpoint_credentials, "show the endpoint's keys")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p = verb(ep, "regenerate-keys", _endpoint_regenerate, "replace the primary or secondary key")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p.add_argument("--key-type", choices=["primary", "secondary"], default="primary", type=str.lower)
    p.add_argument("--key-value", help="use this value instead of a generated one")
    mirror.add_verb(ep, verb)

    dep = verbs("online-deployment", "manage online deployments")
    p = verb(dep, "create", _deployment_create, "create a deployment from YAML and start its workers")
    spec_args(p, True)
    p.add_argument("-n", "--name", type=header_name)
    p.add_argument("-e", "--endpoint-name", type=path_name)
    p.add_argument("--all-traffic", action="store_true", help="send all of the endpoint's traffic to it once up")
    p.add_argument("--placement", choices=["share", "strict"], default="share", help="share cores when full, or refuse")
    no_wait(p)
    p = verb(dep, "update", _deployment_update, "update a deployment (rolling: the old one serves until the new is up)")
    spec_args(p, False)
    p.add_argument("-n", "--name", type=path_name, help="default: name in the file")
    p.add_argument("-e", "--endpoint-name", type=path_name, help="default: endpoint_name in the file")
    no_wait(p)
    for name, handler, text in (("show", _deployment_show, "show a deployment and its workers"),):
        p = verb(dep, name, handler, text)
        p.add_argument("-n", "--name", type=path_name, required=True)
        p.add_argument("-e", "--endpoint-name", type=path_name, required=True)
    p = verb(dep, "list", _deployment_list, "list an endpoint's deployments")
    p.add_argument("-e", "--endpoint-name", type=path_name, required=True)
    p = verb(dep, "delete", _deployment_delete, "delete a deployment (it must take no traffic)")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p.add_argument("-e", "--endpoint-name", type=path_name, required=True)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    no_wait(p)
    p = verb(dep, "get-logs", _deployment_logs, "print the end of a deployment instance's log")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p.add_argument("-e", "--endpoint-name", type=path_name, required=True)
    p.add_argument("-l", "--lines", type=positive, default=200, help="how many lines (default 200)")
    p.add_argument("--instance", type=non_negative, default=0, help="instance number (default 0)")
    p.add_argument(
        "--container",
        choices=["inference-server", "storage-initializer"],
        default="inference-server",
        help="the scoring server's log (default), or what was copied into the deployment and from where",
    )

    # Azure's docs test a deployment on the user's machine first with these flags; here every endpoint is local
    # and nothing is validated apart from the deployment itself, so scripts that pass them run unchanged.
    for group in (ep, dep):
        for sub in group.choices.values():
            sub.add_argument("--local", action="store_true", help="accepted for az ml scripts: modelyard is local")
    for sub in (dep.choices["create"], dep.choices["update"]):
        sub.add_argument("--skip-script-validation", action="store_true", help="accepted for az ml scripts")

    model = verbs("model", "manage the local model registry")
    p = verb(model, "create", _model_create, "register a model version from YAML, or from --name and --path")
    spec_args(p, False)
    p.add_argument("-n", "--name", type=model_name)
    p.add_argument("-v", "--version", type=model_name)
    p.add_argument("-p", "--path", type=not_blank, help="the model's file or folder")
    p.add_argument("-t", "--type", choices=["custom_model", "mlflow_model", "triton_model"], type=str.lower)
    p = verb(model, "list", _model_list, "list registered models (archived versions are hidden)")
    p.add_argument("-n", "--name", type=not_blank)
    p.add_argument("--include-archived", action="store_true", help="list archived versions too")
    p = verb(model, "show", _model_show, "show one model version (default: the latest)")
    p.add_argument("-n", "--name", type=model_name, required=True)
    which = p.add_mutually_exclusive_group()
    which.add_argument("-v", "--version", type=model_name)
    which.add_argument(
        "-l", "--label", choices=["latest"], type=str.lower, help="latest: the newest version that is not archived"
    )
    for verb_name, handler, text in (
        ("archive", _model_archive, "archive a version: hidden from list and @latest, still usable by version"),
        ("delete", _model_delete, "delete a version that no deployment uses"),
    ):
        p = verb(model, verb_name, handler, text)
        p.add_argument("-n", "--name", type=model_name, required=True)
        p.add_argument("-v", "--version", type=model_name, required=True)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    batch.add_verbs(groups, common)
    monitor.add_verbs(groups, common)
    environments.add_verbs(groups, common)
    return parser
