"""What the model build scripts share: writing a built file only when its bytes changed."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent


def write_if_changed(path: Path, data: bytes) -> None:
    """Write `data` to `path` unless the file already holds exactly it, so a rebuild leaves git clean."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rel = path.relative_to(ROOT)
    if path.exists() and path.read_bytes() == data:
        print(f"  unchanged {rel} ({len(data):,} bytes)")
        return
    path.write_bytes(data)
    print(f"  wrote     {rel} ({len(data):,} bytes)")
