"""How the CLI prints results: JSON as the API returns it, or a table of the fields az ml shows."""

from __future__ import annotations

import json
from typing import Any

_COLUMNS = {
    "endpoint": ["name", "auth_mode", "provisioning_state", "traffic", "scoring_uri"],
    "deployment": ["name", "endpoint_name", "provisioning_state", "instance_type", "instance_count", "workers"],
    "model": ["name", "version", "type", "path"],
}


def render(result: Any, fmt: str) -> None:
    """Print a command's result as `json` or as a table."""
    if fmt == "json":
        print(json.dumps(result, indent=2))
        return
    rows = result if isinstance(result, list) else [result]
    if not rows:
        return
    first = rows[0]
    if "endpoint_name" in first:
        cols = _COLUMNS["deployment"]
    elif "scoring_uri" in first:
        cols = _COLUMNS["endpoint"]
    elif "version" in first and "type" in first:
        cols = _COLUMNS["model"]
    else:
        cols = list(first)
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


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
