"""`modelyard status`: the server's status snapshot (GET /api/status) through az's output formats; `metrics`."""

from __future__ import annotations

import argparse
import sys
from collections import OrderedDict
from typing import Any

from runtime.client import Client
from runtime.statedir import StateDir


def add_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    """The `status` command."""
    p = groups.add_parser(
        "status",
        parents=[common],
        help="everything at once: endpoints, deployments and their workers, batch jobs, the machine",
        description="Print serve's status snapshot. -o table lists one row per deployment; json (the default), "
        "yaml and --query see the whole snapshot, as GET /api/status answers it.",
    )
    p.set_defaults(handler=status_command)
    p = groups.add_parser("metrics", parents=[common], help="print /metrics, the Prometheus text a scraper reads")
    p.set_defaults(handler=metrics_command)


def status_command(args: argparse.Namespace) -> Any:
    """The snapshot; for -o table without --query, one row per deployment (a nested snapshot has no table)."""
    snapshot = Client(StateDir(args.state_dir)).call("GET", "/api/status")
    if args.output == "table" and args.query is None and isinstance(snapshot, dict):
        return [_row(d) for d in snapshot.get("deployments", [])]
    return snapshot


def metrics_command(args: argparse.Namespace) -> int:
    """Print /metrics as it is (text, whatever -o says)."""
    text = Client(StateDir(args.state_dir)).call("GET", "/metrics")
    sys.stdout.write(text or "")
    return 0


def _row(dep: dict[str, Any]) -> OrderedDict[str, Any]:
    workers = dep.get("workers", [])
    cpu = [w["cpu_percent"] for w in workers if w.get("cpu_percent") is not None]
    rss = [w["rss_bytes"] for w in workers if w.get("rss_bytes") is not None]
    errors = " ".join(f"{s}={n}" for s, n in dep.get("errors_by_status", {}).items())
    # An OrderedDict keeps these columns in this order in az's generic table.
    return OrderedDict(
        [
            ("Endpoint", dep["endpoint"]),
            ("Deployment", dep["name"]),
            ("Kind", dep["kind"]),
            ("State", dep["state"]),
            ("Instances", dep["instance_count"]),
            ("Workers", len(workers)),
            ("CpuPercent", round(sum(cpu), 1) if cpu else None),
            ("RssMiB", round(sum(rss) / 2**20, 1) if rss else None),
            ("RequestsPerS", dep.get("requests_per_s", 0.0)),
            ("InFlight", dep.get("in_flight", 0)),
            ("P50Ms", dep.get("p50_ms")),
            ("P99Ms", dep.get("p99_ms")),
            ("Errors", errors),
            ("CoreSeconds", dep.get("core_seconds", 0.0)),
        ]
    )
