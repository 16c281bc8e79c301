"""The YAML file a verb is given: read for the request body, and read as the server will where a name in it
picks the URL (the file's `name` or `endpoint_name`, after --set)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runtime.errors import SpecError


def spec_body(args: argparse.Namespace, required: bool = True) -> dict[str, Any]:
    """The request body of a verb that takes -f/--set/-n: the file's text and absolute path, the overrides."""
    body: dict[str, Any] = {"set": args.set or []}
    if getattr(args, "file", None) is not None:
        path = Path(args.file)
        try:
            body["yaml"] = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError(f"cannot read {args.file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise SpecError(f"cannot read {args.file}: not UTF-8 text (a YAML file is expected)") from None
        body["source"] = str(path.resolve())
    elif required:
        raise SpecError("a YAML file is required: pass it with -f/--file")
    if getattr(args, "name", None) is not None:
        body["name"] = args.name
    return body


def name_from_file(body: dict[str, Any], key: str, flag: str, what: str = "deployment") -> str:
    """A name that is part of the URL, read from the file as the server will read it: --set applied first."""
    what = "endpoint" if key == "endpoint_name" else what
    if body.get("yaml") is None:
        raise SpecError(f"the {what} is not named: pass {flag}")
    # A file that does not parse is reported as the server would report it, not hidden behind "not named".
    from runtime.spec import apply_overrides, parse_yaml, validate_name

    raw = parse_yaml(body["yaml"], label=body["source"])
    try:
        name = apply_overrides(raw, body["set"]).get(key)
    except SpecError as exc:
        raise SpecError(f"{body['source']}: {exc.message}") from None
    if name is None:
        raise SpecError(f"the {what} is not named: pass {flag} or set {key} in the YAML")
    if not isinstance(name, str):
        raise SpecError(f"{body['source']}: $.{key}: expected a string, got {name!r}")
    validate_name(name, where=f"{body['source']}: $.{key}")
    return name


def check_file(body: dict[str, Any], kind: str, **flags: str | None) -> None:
    """Check a file the URL was named from as the server will: the wrong kind of file (a deployment's given to
    `online-endpoint update`) is refused for what it is, not as an endpoint of that name that does not exist."""
    from runtime.spec import load_deployment, load_endpoint

    if kind == "endpoint":
        load_endpoint(body["yaml"], source=body["source"], overrides=body["set"], name=flags.get("name"))
    else:
        load_deployment(body["yaml"], source=body["source"], overrides=body["set"], **flags)


def model_path(text: str) -> Path:
    """--path, absolute (the server resolves it from another working directory): a file or folder that exists."""
    path = Path(text).resolve()
    if not path.exists():
        raise SpecError(f"-p/--path {text}: no such file or folder; a model is a file or a folder of files")
    if not (path.is_file() or path.is_dir()):
        raise SpecError(f"-p/--path {text}: not a regular file or a folder (a device, pipe or socket is no model)")
    return path
