"""How the CLI prints results: az's output formats (`-o`), after az's `--query`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import OrderedDict
from typing import Any, TextIO

from runtime.cli.query import jmespath_type, search

FORMATS = ("json", "jsonc", "yaml", "yamlc", "table", "tsv", "none")

_COLUMNS = {
    "endpoint": ["name", "auth_mode", "provisioning_state", "traffic", "scoring_uri"],
    "deployment": ["name", "endpoint_name", "provisioning_state", "instance_type", "instance_count", "workers"],
    "model": ["name", "version", "type", "path"],
    "batch-endpoint": ["name", "auth_mode", "provisioning_state", "defaults", "scoring_uri"],
    "batch-deployment": ["name", "endpoint_name", "provisioning_state", "compute"],
}
_TABLE_SKIP = ("id", "type", "etag")  # az leaves these out of its generic table


def add_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """-o and --query; copies on each verb default to SUPPRESS so they never overwrite a value given before it."""
    parser.add_argument(
        "-o",
        "--output",
        choices=FORMATS,
        type=str.lower,
        default="json" if top else argparse.SUPPRESS,
        help="output format (default json)",
    )
    parser.add_argument(
        "--query",
        type=jmespath_type,
        metavar="JMESPATH",
        default=None if top else argparse.SUPPRESS,
        help="JMESPath query over the JSON result, as in az (see https://jmespath.org)",
    )


def emit(result: Any, fmt: str, query: Any = None, out: TextIO | None = None) -> None:
    """Print a command's result as `fmt` after `query`; a result that is null prints nothing, as in az."""
    stream = out or sys.stdout
    if query is not None:
        result = search(query, result)
    if result is None or fmt == "none":
        return
    colour = fmt in ("jsonc", "yamlc") and _colour(stream)
    text = render(result, fmt, queried=query is not None)
    if colour:
        _highlight(text, "json" if fmt == "jsonc" else "yaml", stream)
    else:
        stream.write(text)


def render(result: Any, fmt: str, *, queried: bool = False) -> str:
    """The text of `result` in one format (jsonc and yamlc are their plain forms here)."""
    if fmt in ("json", "jsonc"):
        return json.dumps(result, indent=2) + "\n"
    if fmt in ("yaml", "yamlc"):
        import yaml

        # az dumps with safe_dump: keys sorted, block style; query results (ordered dicts) become plain ones first.
        text: str = yaml.safe_dump(_plain(result), default_flow_style=False, allow_unicode=True)
        return text
    if fmt == "tsv":
        rows = result if isinstance(result, list) else [result]
        return "".join(_tsv_row(row) + "\n" for row in rows)
    if fmt == "table":
        return table(result, queried=queried)
    return ""


def closed_pipe() -> int:
    """After stdout's reader went away (`| head`): exit 0 quietly, as az does, without a second error at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter flushes stdout again at exit
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 0


# --- tsv: knack's rules (azure-cli's `-o tsv`) -------------------------------------------------------------------


def _tsv_row(row: Any) -> str:
    if isinstance(row, dict):
        # A plain object's values in sorted key order; one the query built keeps the expression's order.
        values = list(row.values()) if isinstance(row, OrderedDict) else [v for _, v in sorted(row.items())]
        return "\t".join(_tsv_cell(v) for v in values)
    if isinstance(row, list):
        return "\t".join(_tsv_cell(v) for v in row)
    if isinstance(row, bool):
        return str(row).lower()
    return _tsv_cell(row)


def _tsv_cell(value: Any) -> str:
    if isinstance(value, list):
        return str(len(value))
    if isinstance(value, dict):
        return ""  # kept as an empty column, so rows line up whether the object is there or null
    return value if isinstance(value, str) else str(value)


# --- table -------------------------------------------------------------------------------------------------------


def table(result: Any, *, queried: bool = False) -> str:
    """az's table: the curated columns of endpoints, deployments and models, else the top-level scalars."""
    rows = result if isinstance(result, list) else [result]
    if not rows:
        return ""
    cols = None if queried else _curated(rows)
    if cols is not None:
        return _grid(cols, [[_cell(r.get(c)) for c in cols] for r in rows])
    items = [_auto_item(r, sort=not queried) for r in rows]
    headers = list(dict.fromkeys(k for item in items for k in item))
    if not headers:
        return ""
    return _grid(headers, [[_scalar(item.get(h)) for h in headers] for item in items])


def _curated(rows: list[Any]) -> list[str] | None:
    if not all(isinstance(r, dict) for r in rows):
        return None
    first = rows[0]
    if "endpoint_name" in first and "settings" in first:
        return _COLUMNS["batch-deployment"]
    if "scoring_uri" in first and "defaults" in first:
        return _COLUMNS["batch-endpoint"]
    if "endpoint_name" in first:
        return _COLUMNS["deployment"]
    if "scoring_uri" in first:
        return _COLUMNS["endpoint"]
    if "version" in first and "type" in first:
        return _COLUMNS["model"]
    return None


def _auto_item(item: Any, *, sort: bool) -> dict[str, Any]:
    if isinstance(item, dict):
        keys = sorted(item) if sort and not isinstance(item, OrderedDict) else list(item)
        return {
            k[:1].upper() + k[1:]: item[k]
            for k in keys
            if k not in _TABLE_SKIP and item[k] is not None and not isinstance(item[k], (list, dict))
        }
    if isinstance(item, list):
        return {f"Column{i}": v for i, v in enumerate(item, start=1)}
    return {"Result": item}


def _grid(headers: list[str], cells: list[list[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "".join(line.rstrip() + "\n" for line in lines)


def _scalar(value: Any) -> str:
    return "" if value is None else str(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(_worker_cell(w) if isinstance(w, dict) else str(w) for w in value)
    return str(value)


def _worker_cell(worker: dict[str, Any]) -> str:
    cores = ",".join(map(str, worker.get("cores", [])))
    gpus = ",".join(map(str, worker.get("gpus", [])))
    where = f"cores {cores}" + (f" gpu {gpus}" if gpus else "") + (" shared" if worker.get("shared") else "")
    process = f".{worker['process']}" if worker.get("process") else ""  # one of WORKER_COUNT processes
    return f"#{worker.get('instance')}{process}:{worker.get('state')}({where})"


# --- colour ------------------------------------------------------------------------------------------------------


def _colour(stream: TextIO) -> bool:
    # As az: colour only when both stdout and stderr are terminals, so a redirected stream never gets escapes.
    return stream.isatty() and sys.stderr.isatty() and "NO_COLOR" not in os.environ


def _highlight(text: str, language: str, stream: TextIO) -> None:
    from rich.console import Console
    from rich.syntax import Syntax

    console = Console(file=stream, force_terminal=True, highlight=False)
    syntax = Syntax(text.rstrip("\n"), language, theme="ansi_dark", background_color="default", word_wrap=False)
    console.print(syntax, soft_wrap=True)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
