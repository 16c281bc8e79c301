"""Secrets in the state directory are written whole or not at all, and a cut one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import ModelyardError
from runtime.statedir import StateDir


def test_a_secret_that_cannot_be_written_leaves_no_file(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    (tmp_path / "token-secret.tmp").mkdir()  # stands in for a write that fails
    with pytest.raises(ModelyardError, match="cannot create token-secret"):
        state.token_secret()
    assert not (tmp_path / "token-secret").exists()
    (tmp_path / "token-secret.tmp").rmdir()
    secret = state.token_secret()
    assert len(secret) == 32 and state.token_secret() == secret
    assert (tmp_path / "token-secret").stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "token-secret.tmp").exists()


def test_a_cut_token_secret_is_refused_rather_than_used(tmp_path: Path) -> None:
    (tmp_path / "token-secret").write_bytes(b"")
    with pytest.raises(ModelyardError, match="holds 0 bytes, not 32: delete it"):
        StateDir(tmp_path).token_secret()


def test_the_admin_token_is_made_once(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    token = state.admin_token(create=True)
    assert state.admin_token() == token and (tmp_path / "admin-token").stat().st_mode & 0o777 == 0o600
