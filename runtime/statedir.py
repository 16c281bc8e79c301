"""The state directory: where serve keeps its database, admin token, address, snapshots and logs.

Resolved the same way by `serve` and by every CLI command: `--state-dir`, else `$MODELYARD_HOME`, else
`~/.modelyard`. The CLI needs nothing else: the running server writes its address to `server.json` and the admin
token to `admin-token` (mode 0600) here.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import msgspec

DEFAULT = "~/.modelyard"


class ServerInfo(msgspec.Struct, frozen=True):
    """Where the running server listens."""

    url: str
    pid: int
    server: str


class StateDir:
    """Paths inside one state directory."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        chosen = root or os.environ.get("MODELYARD_HOME") or DEFAULT
        self.root = Path(chosen).expanduser().resolve()

    @property
    def db(self) -> Path:
        """The SQLite database."""
        return self.root / "state.db"

    @property
    def token_file(self) -> Path:
        """The admin token for /api (mode 0600)."""
        return self.root / "admin-token"

    @property
    def server_file(self) -> Path:
        """The running server's address."""
        return self.root / "server.json"

    @property
    def logs(self) -> Path:
        """Worker logs, one folder per endpoint."""
        return self.root / "logs"

    @property
    def snapshots(self) -> Path:
        """Copied code and models of each deployment."""
        return self.root / "snapshots"

    @property
    def models(self) -> Path:
        """The local model registry."""
        return self.root / "models"

    @property
    def instance_types(self) -> Path:
        """The user's own instance types, added to the built-in table."""
        return self.root / "instance_types.yml"

    @property
    def serve_log(self) -> Path:
        """Output of a detached server."""
        return self.root / "serve.log"

    def ensure(self) -> None:
        """Create the directory (private to this user)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def admin_token(self, create: bool = False) -> str:
        """Read the admin token; with create=True make one (0600) when there is none."""
        try:
            return self.token_file.read_text().strip()
        except FileNotFoundError:
            if not create:
                raise
        self.ensure()
        token = secrets.token_urlsafe(32)
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token)
        return token

    def token_secret(self) -> bytes:
        """The key that signs endpoint tokens (mode 0600), made on first use."""
        path = self.root / "token-secret"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        self.ensure()
        secret = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
        return secret

    def write_server(self, info: ServerInfo) -> None:
        """Publish the server's address (atomically)."""
        tmp = self.server_file.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(info))
        os.replace(tmp, self.server_file)

    def read_server(self) -> ServerInfo | None:
        """The published address, or None when no server wrote one."""
        try:
            return msgspec.json.decode(self.server_file.read_bytes(), type=ServerInfo)
        except (FileNotFoundError, msgspec.DecodeError):
            return None
