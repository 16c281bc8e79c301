"""What a snapshot records about its sources, and how update compares it with the files as they are now."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.control import sources
from runtime.control.plan import current_sources, snapshot
from runtime.errors import NotFound
from runtime.spec import ModelType, load_deployment

DEPLOYMENT = """\
name: blue
endpoint_name: fix
model:
  path: ./model.bin
code_configuration:
  code: ./src
  scoring_script: score.py
instance_type: cpu1
"""


def _no_registry(name: str, version: str | None, label: str | None) -> tuple[str, ModelType]:
    raise NotFound(name)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "src" / "__pycache__").mkdir(parents=True)
    (tmp_path / "src" / "score.py").write_text("def init(): pass\ndef run(x): return x\n")
    (tmp_path / "src" / "__pycache__" / "score.pyc").write_bytes(b"cache")
    (tmp_path / "model.bin").write_bytes(b"\x00" * 10)
    (tmp_path / "deployment.yml").write_text(DEPLOYMENT)
    return tmp_path


def _now(folder: Path) -> sources.Sources:
    loaded = load_deployment(DEPLOYMENT, source=str(folder / "deployment.yml"))
    return current_sources(loaded.spec, base_dir=loaded.base_dir, source=loaded.source, resolve_model=_no_registry)


def _snap(folder: Path) -> Path:
    loaded = load_deployment(DEPLOYMENT, source=str(folder / "deployment.yml"))
    return snapshot(
        loaded.spec,
        base_dir=loaded.base_dir,
        source=loaded.source,
        into=folder / "snapshots",
        resolve_model=_no_registry,
    )


def test_a_snapshot_records_what_it_copied_and_from_where(folder: Path) -> None:
    snap = _snap(folder)
    record = sources.stored(snap)
    assert record is not None
    assert [(c.what, c.source, c.dest, c.files, c.bytes) for c in record.copied] == [
        ("model", str(folder / "model.bin"), "azureml-models/model/1/model.bin", 1, 10),
        ("code", str(folder / "src"), "code/src", 1, 38),
    ]
    log = sources.log_path(snap).read_text()
    assert f"copied code from {folder / 'src'} to code/src: 1 file(s), 38 bytes, sha256 " in log
    assert log.rstrip().endswith("storage-initializer: done")


def test_unchanged_sources_match_their_snapshot_and_edits_do_not(folder: Path) -> None:
    record = sources.stored(_snap(folder))
    assert _now(folder).same_content(record)
    (folder / "src" / "__pycache__" / "score.pyc").write_bytes(b"other cache")  # not copied, so not compared
    assert _now(folder).same_content(record)
    (folder / "src" / "score.py").write_text("def init(): pass\ndef run(x): return 2\n")
    assert not _now(folder).same_content(record)
    (folder / "src" / "score.py").write_text("def init(): pass\ndef run(x): return x\n")
    (folder / "src" / "extra.py").write_text("")
    assert not _now(folder).same_content(record)


def test_a_snapshot_without_a_record_counts_as_changed(folder: Path, tmp_path: Path) -> None:
    assert sources.stored(tmp_path / "nowhere") is None
    assert not _now(folder).same_content(None)
