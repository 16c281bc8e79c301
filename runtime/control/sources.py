"""What a deployment's snapshot was copied from: paths, file counts, bytes and content hashes of code and model.

The record is written into each snapshot. `online-deployment update` hashes the source files again and compares, so
changed code or model files roll the workers while an unchanged folder rolls nothing; `get-logs --container
storage-initializer` prints the record, as Azure's storage initializer logs what it downloaded.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import msgspec

#: Names the snapshot copy leaves out, so the hashes of a source and of its copy agree.
SKIPPED = frozenset({"__pycache__", ".git"})
_RECORD = "sources.json"
_LOG = "storage-initializer.log"


class Copied(msgspec.Struct, frozen=True, kw_only=True):
    """One folder or file copied into the snapshot."""

    what: str  #: "model" or "code"
    source: str  #: absolute path it was copied from
    dest: str  #: path inside the snapshot
    files: int
    bytes: int
    sha256: str  #: over each file's relative path and content, in path order


class Sources(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one snapshot holds, or points at (a registered model is used in place, not copied)."""

    copied: tuple[Copied, ...] = ()
    model_ref: str | None = None  #: registry folder of a registered model
    at: float = 0.0

    def same_content(self, other: Sources | None) -> bool:
        """Whether `other` holds the same bytes in the same places (where they were copied from does not matter)."""
        if other is None:
            return False
        mine = [(c.what, c.dest, c.sha256) for c in self.copied]
        return self.model_ref == other.model_ref and mine == [(c.what, c.dest, c.sha256) for c in other.copied]


def digest(what: str, src: Path, *, source: Path, dest: str) -> Copied:
    """Count and hash a file or folder (`src`, which holds what `source` held) as the snapshot copies it."""
    files = [src] if src.is_file() else sorted(_walk(src))
    total = hashlib.sha256()
    size = 0
    for path in files:
        rel = path.name if path == src else path.relative_to(src).as_posix()
        total.update(rel.encode("utf-8", "surrogateescape") + b"\0")
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
        total.update(h.digest())
    return Copied(what=what, source=str(source), dest=dest, files=len(files), bytes=size, sha256=total.hexdigest())


def _walk(root: Path) -> list[Path]:
    out: list[Path] = []
    for path in root.iterdir():
        if path.name in SKIPPED:
            continue
        if path.is_dir():
            out.extend(_walk(path))
        elif path.is_file():
            out.append(path)
    return out


def record(snapshot: Path, sources: Sources, snapshot_id: str) -> None:
    """Write the record and the storage-initializer log into a snapshot being built (to be named `snapshot_id`)."""
    sources = msgspec.structs.replace(sources, at=time.time())
    (snapshot / _RECORD).write_bytes(msgspec.json.encode(sources))
    (snapshot / _LOG).write_text(describe(sources, snapshot_id), encoding="utf-8")


def stored(snapshot: Path) -> Sources | None:
    """The record of a snapshot; None for one made before records were kept (its content counts as unknown)."""
    try:
        return msgspec.json.decode((snapshot / _RECORD).read_bytes(), type=Sources)
    except (OSError, msgspec.DecodeError):
        return None


def log_path(snapshot: Path) -> Path:
    """Where the storage-initializer log of a snapshot lives."""
    return snapshot / _LOG


def describe(sources: Sources, snapshot_id: str) -> str:
    """The storage-initializer log: one line per thing copied."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sources.at))
    lines = [f"{stamp} storage-initializer: snapshot {snapshot_id}"]
    for c in sources.copied:
        lines.append(
            f"{stamp} copied {c.what} from {c.source} to {c.dest}: {c.files} file(s), {c.bytes} bytes, "
            f"sha256 {c.sha256}"
        )
    if sources.model_ref is not None:
        lines.append(f"{stamp} model is registered: used in place from {sources.model_ref} (not copied)")
    if not sources.copied and sources.model_ref is None:
        lines.append(f"{stamp} nothing to copy: the deployment has no code and no model")
    lines.append(f"{stamp} storage-initializer: done")
    return "\n".join(lines) + "\n"
