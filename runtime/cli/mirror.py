"""`online-endpoint mirror-report`: how the mirror deployment's answers compared with the live ones."""

from __future__ import annotations

import argparse
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from runtime.cli.args import path_name
from runtime.cli.calls import api, quoted

Verb = Callable[[Any, str, Callable[[argparse.Namespace], Any], str], argparse.ArgumentParser]


def add_verb(group: Any, verb: Verb) -> None:
    """Add mirror-report to the online-endpoint verbs."""
    p = verb(group, "mirror-report", _report, "compare the mirror deployment's answers with the live ones")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p.add_argument(
        "--since", help="an ISO-8601 time (UTC unless it has an offset) or a duration back from now: 30s, 15m, 2h, 1d"
    )


def _report(args: argparse.Namespace) -> Any:
    path = f"/api/endpoints/{quoted(args.name)}/mirror-report"
    if args.since is not None:
        path += "?" + urllib.parse.urlencode({"since": args.since})
    report = api(args).call("GET", path)
    if args.output == "table" and args.query is None:
        return summary_rows(report)
    return report


def summary_rows(report: dict[str, Any]) -> list[OrderedDict[str, Any]]:
    """One table row per mirror deployment (ordered, so the table keeps this column order)."""
    rows = []
    for dep in report["deployments"]:
        errors = " ".join(f"{code}={n}" for code, n in dep["shadow_errors"].items())
        live, shadow = dep["latency_ms"]["live"], dep["latency_ms"]["shadow"]
        rows.append(
            OrderedDict(
                Deployment=dep["deployment"],
                Mirrored=dep["mirrored"],
                Dropped=dep["dropped"],
                Errors=errors or "0",
                Compared=dep["compared"],
                Agreed=dep["agreed"],
                AgreementRate=f"{dep['agreement_rate']:.1%}",
                LabelAgreement=f"{dep['label_agreement']:.1%}",
                StatusMismatches=dep["status_mismatches"],
                LiveP50ms=live["p50"],
                LiveP99ms=live["p99"],
                ShadowP50ms=shadow["p50"],
                ShadowP99ms=shadow["p99"],
            )
        )
    if not rows:  # no mirror, and nothing mirrored in the window: a row of zeros says so
        rows.append(OrderedDict(Deployment="(none)", Mirrored=0, Dropped=0, Errors="0", Compared=0, Agreed=0))
    return rows
