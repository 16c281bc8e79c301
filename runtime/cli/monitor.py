"""`monitor autoscale ...`: Azure Monitor autoscale settings and rules for local online deployments, with az's flags.

    monitor autoscale create --resource <endpoint>/<deployment> --count N [--min-count N] [--max-count N] [-n NAME]
    monitor autoscale show|delete -n NAME, list, update -n NAME [--count] [--min-count] [--max-count] [--enabled]
    monitor autoscale rule create --autoscale-name NAME --condition "CpuUtilizationPercentage > 70 avg 5m"
                                  --scale out 2 [--cooldown 5] [--timegrain "avg 1m"] [--resource <endpoint>]
    monitor autoscale rule list|delete --autoscale-name NAME [--index I ...|'*']

`-g/--resource-group` is accepted everywhere and means nothing here. As in az, the deletes do not ask first.
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from collections.abc import Callable
from typing import Any

from runtime.cli.args import not_blank, path_name, positive
from runtime.cli.calls import api, quoted

Handler = Callable[[argparse.Namespace], Any]
_BASE = "/api/autoscale-settings"


def _warn(message: str) -> None:
    print(f"modelyard: warning: {message}", file=sys.stderr)


def _tags(values: list[str] | None) -> dict[str, str] | None:
    """az's --tags: space-separated KEY[=VALUE]."""
    if values is None:
        return None
    pairs = (item.partition("=") for item in values if item)
    return {key: value for key, _, value in pairs}


def _create(args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"resource": args.resource, "count": args.count, "disabled": args.disabled}
    for key in ("name", "resource_type", "min_count", "max_count"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    if args.tags is not None:
        body["tags"] = _tags(args.tags)
    result = api(args).call("POST", _BASE, body)
    low = args.min_count if args.min_count is not None else args.count
    high = args.max_count if args.max_count is not None else args.count
    if not low == args.count == high:
        _warn("Follow up with `modelyard monitor autoscale rule create` to add scaling rules.")
    return result


def _show(args: argparse.Namespace) -> Any:
    return api(args).call("GET", f"{_BASE}/{quoted(args.name)}")


def _list(args: argparse.Namespace) -> Any:
    return api(args).call("GET", _BASE)


def _update(args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {}
    for key in ("count", "min_count", "max_count", "enabled"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    if args.tags is not None:
        body["tags"] = _tags(args.tags)
    return api(args).call("PATCH", f"{_BASE}/{quoted(args.name)}", body)


def _delete(args: argparse.Namespace) -> Any:
    api(args).call("DELETE", f"{_BASE}/{quoted(args.name)}")
    return None


def _rules_path(args: argparse.Namespace, **query: Any) -> str:
    query = {"profile": args.profile_name, **query}
    return f"{_BASE}/{quoted(args.autoscale_name)}/rules?{urllib.parse.urlencode(query, doseq=True)}"


def _rule_create(args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {
        "condition": " ".join(args.condition),
        "scale": " ".join(args.scale),
        "profile_name": args.profile_name,
    }
    if args.cooldown is not None:
        body["cooldown"] = args.cooldown
    if args.timegrain is not None:
        body["timegrain"] = " ".join(args.timegrain)
    if args.resource is not None:
        body["resource"] = args.resource
    if args.resource_type is not None:
        body["resource_type"] = args.resource_type
    client = api(args)
    rule = client.call("POST", f"{_BASE}/{quoted(args.autoscale_name)}/rules", body)
    # az's advice after each rule: a profile that only scales one way never comes back.
    directions = [r["scaleAction"]["direction"] for r in client.call("GET", _rules_path(args))]
    outs, ins = directions.count("Increase"), directions.count("Decrease")
    if outs and not ins:
        _warn(
            f"Profile '{args.profile_name}' has rules to scale out but none to scale in. "
            "Recommend creating at least 1 scale in rule."
        )
    elif ins and not outs:
        _warn(
            f"Profile '{args.profile_name}' has rules to scale in but none to scale out. "
            "Recommend creating at least 1 scale out rule."
        )
    return rule


def _rule_list(args: argparse.Namespace) -> Any:
    return api(args).call("GET", _rules_path(args))


def _rule_delete(args: argparse.Namespace) -> Any:
    api(args).call("DELETE", _rules_path(args, index=args.index))
    return None


def _three_state(text: str) -> bool:
    """az's three-state flag: true or false (the flag alone is true)."""
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"must be true or false, got {text!r}")
    return text.lower() == "true"


# --- parser ------------------------------------------------------------------------------------------------


def add_verbs(groups: Any, common: argparse.ArgumentParser) -> None:
    """Add the `monitor autoscale` group (and its `rule` group) to the CLI's parser."""
    monitor = groups.add_parser("monitor", help="Azure Monitor autoscale settings of online deployments")
    top = monitor.add_subparsers(dest="monitor_group", metavar="GROUP", required=True)
    autoscale = top.add_parser("autoscale", help="manage autoscale settings")
    # Not named "verb": these deletes do not ask for confirmation, as az's monitor autoscale deletes do not.
    verbs = autoscale.add_subparsers(dest="monitor_verb", metavar="VERB", required=True)

    def verb(sub: Any, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=help)
        p.set_defaults(handler=handler)
        p.add_argument("-g", "--resource-group", help="accepted for az scripts; everything here is local")
        return p

    def counts(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("--count", type=positive, required=required, help="the default number of instances")
        p.add_argument("--min-count", type=positive, help="the fewest instances (default: --count)")
        p.add_argument("--max-count", type=positive, help="the most instances (default: --count)")
        p.add_argument("--tags", nargs="*", metavar="KEY[=VALUE]", help="space-separated tags")

    p = verb(verbs, "create", _create, "create an autoscale setting for an online deployment")
    p.add_argument(
        "--resource", type=not_blank, required=True, help="<endpoint>/<deployment>, or the deployment's ARM id"
    )
    p.add_argument("--resource-type", help="Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments")
    p.add_argument("-n", "--name", help="the setting's name (default: the deployment's name)")
    counts(p, True)
    p.add_argument("--disabled", type=_three_state, nargs="?", const=True, default=False, help="create it disabled")
    p = verb(verbs, "show", _show, "show an autoscale setting")
    p.add_argument("-n", "--name", type=path_name, required=True)
    verb(verbs, "list", _list, "list autoscale settings")
    p = verb(verbs, "update", _update, "change an autoscale setting's instance limits, enabled state or tags")
    p.add_argument("-n", "--name", type=path_name, required=True)
    counts(p, False)
    p.add_argument("--enabled", type=_three_state, nargs="?", const=True, help="true or false")
    p = verb(verbs, "delete", _delete, "delete an autoscale setting")
    p.add_argument("-n", "--name", "--autoscale-name", dest="name", type=path_name, required=True)
    p.add_argument("-y", "--yes", action="store_true", help="accepted; the delete does not ask, as in az")

    rule = verbs.add_parser("rule", help="manage an autoscale setting's rules")
    rules = rule.add_subparsers(dest="monitor_rule_verb", metavar="VERB", required=True)

    def rule_verb(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p = verb(rules, name, handler, help)
        p.add_argument("--autoscale-name", type=path_name, required=True, help="the autoscale setting")
        p.add_argument("--profile-name", default="default", help="the profile (only `default` exists here)")
        return p

    p = rule_verb("create", _rule_create, "add a scaling rule")
    p.add_argument(
        "--condition",
        nargs="+",
        required=True,
        help='METRIC {==,!=,>,>=,<,<=} THRESHOLD {avg,min,max,total,count} WINDOW, e.g. "CpuUtilizationPercentage'
        ' > 70 avg 5m" (windows such as 30s, 5m, 1h)',
    )
    p.add_argument("--scale", nargs="+", required=True, help="out N, in N, out N%%, in N%% or to N")
    p.add_argument("--cooldown", help="minutes before the next scale action (default 5; 0.5 or 30s locally)")
    p.add_argument("--timegrain", nargs="+", help='statistic and grain, e.g. "avg 1m" (the default)')
    p.add_argument("--resource", help="read the metric from the endpoint (its name or ARM id) instead")
    p.add_argument("--resource-type", help="the --resource's type")
    rule_verb("list", _rule_list, "list the rules, with their indexes")
    p = rule_verb("delete", _rule_delete, "remove rules by index")
    p.add_argument("--index", nargs="+", required=True, help="indexes from `rule list`, or '*' for every rule")
    p.add_argument("-y", "--yes", action="store_true", help="accepted; the delete does not ask, as in az")
