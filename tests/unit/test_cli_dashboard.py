"""`modelyard dashboard`: its refusals before any app starts, and the hint when Textual is not installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from runtime.cli import main


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_without_textual_it_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "textual", None)  # import textual now fails as where it is not installed
    monkeypatch.delitem(sys.modules, "tui.app", raising=False)
    assert main(["dashboard", "--state-dir", str(tmp_path)]) == 1
    assert "pip install 'modelyard[tui]'" in _one_line_error(capsys)


def test_a_token_needs_a_url_and_a_url_needs_a_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--state-dir", str(tmp_path), "--token", "t"]) == 1
    assert "--token goes with --url" in _one_line_error(capsys)
    assert main(["dashboard", "--state-dir", str(tmp_path), "--url", "http://127.0.0.1:1"]) == 1
    assert "--url needs --token" in _one_line_error(capsys)


def test_the_interval_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["dashboard", "--interval", "0"])
    assert exit_info.value.code == 2
    assert "seconds from 0.2 to 3600" in _one_line_error(capsys)
